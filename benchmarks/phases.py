"""The measured phases: isolated stages, then end to end at saturation, at half load and overloaded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import fleet, sampling
from benchmarks.infra import infra_cpu_s, infra_pids, infra_rows
from benchmarks.overload import Blaster, PrivateBroker, agri_templates
from benchmarks.pipeline import RunContext
from benchmarks.probe import Counters, Probe
from benchmarks.procs import ProcSample, Service, free_port, read_proc
from benchmarks.progress import Progress
from benchmarks.stats import first_backlogged, percentile, rss_verdict, slowest_stage, steady_rate
from contracts.families import FAMILY_NAMES
from simulators.api import FleetConfig, VerifyOptions, verify_async

__all__ = ["Sizes", "run_e2e", "run_stages"]


@dataclass(frozen=True)
class Sizes:
    """How much each phase publishes and how long it may take."""

    stage_messages: int
    saturation_messages: int
    latency_s: float
    overload_s: float
    drain_timeout_s: float
    mqtt_limit_messages: tuple[int, int]  # QoS 0, QoS 1
    kafka_limit_records: int
    copy_limit_rows: int
    scale: int = 1  # end to end: normalize and sink processes per stage, each stage one group
    profile: bool = False  # py-spy sampling profiles of the saturation run's processes


QUICK = Sizes(6000, 12000, 12.0, 20.0, 45.0, (50_000, 20_000), 100_000, 50_000)
FULL = Sizes(30000, 60000, 45.0, 60.0, 180.0, (200_000, 100_000), 500_000, 300_000)

SEED = 4242


def _family_of(dataset: str) -> str:
    return dataset.split("_", 1)[0]


def _normalized_at_least(family: str, target: int) -> Callable[[Counters], bool]:
    return lambda c: c.normalized.get(family, 0) >= target


def _normalized_of(family: str) -> Callable[[Counters], float]:
    return lambda c: float(c.normalized.get(family, 0))


def _records_of(family: str) -> Callable[[Counters], float]:
    return lambda c: float(sum(v for k, v in c.data.items() if _family_of(k) == family))


def _window(samples: list[Counters], t0: float, t1: float) -> list[Counters]:
    return [s for s in samples if t0 - 1.0 <= s.t <= t1 + 1.0]


def _series(samples: list[Counters], pick: Callable[[Counters], float]) -> tuple[list[float], list[float]]:
    return [s.t for s in samples], [float(pick(s)) for s in samples]


async def _wait(probe: Probe, done: Callable[[Counters], bool], timeout_s: float, progress: Progress, label: str) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe.samples and done(probe.samples[-1]):
            return True
        if probe.samples:
            c = probe.samples[-1]
            progress.status(f"{label}: raw {sum(c.raw.values())} normalized {sum(c.normalized.values())} "
                            f"data {sum(c.data.values())} stored {c.sunk}")
        await asyncio.sleep(0.5)
    return False


def _cpu(svc: Service, before: ProcSample | None, after: ProcSample | None, messages: int) -> dict[str, Any]:
    if before is None or after is None or messages <= 0:
        return {"process": svc.name, "cpu_s": None, "cpu_ms_per_message": None}
    cpu = after.cpu_s - before.cpu_s
    wall = max(1e-6, after.t - before.t)
    return {"process": svc.name, "cpu_s": round(cpu, 3), "cpu_ms_per_message": round(cpu * 1000 / messages, 4),
            "cores_busy": round(cpu / wall, 3)}


def _phase_configs(ctx: RunContext, sizes: Sizes) -> dict[str, FleetConfig]:
    """Fleet configs per phase (the latency phase's rate is a placeholder until saturation is known)."""
    d = ctx.driver
    return {
        "stage": fleet.fleet_config(SEED + 1, 3000.0, sizes.stage_messages / 3000.0, d),
        "saturation": fleet.fleet_config(SEED + 2, 3000.0, sizes.saturation_messages / 3000.0, d),
        "latency": fleet.fleet_config(SEED + 3, 1000.0, sizes.latency_s, d),
        "overload": fleet.fleet_config(SEED + 4, 300.0, 2.0, d),
    }


async def run_stages(ctx: RunContext, sizes: Sizes, progress: Progress) -> dict[str, Any]:
    """Gateway alone, then normalize per family alone, then the sink alone, on a filled backlog."""
    configs = _phase_configs(ctx, sizes)
    env = {**os.environ, **ctx.base_env()}
    progress.phase("register the simulated fleet")
    fleet.register(configs.values(), env, ctx.work)
    subs = fleet.subscriptions(configs.values(), ctx.driver)
    await ctx.create_topics("s")
    progress.phase("stage: generate fleet traffic")
    items = fleet.pregenerate(configs["stage"])
    out: dict[str, Any] = {"subscriptions": subs}

    progress.phase("stage: gateway ingest (QoS 1, gateway alone)")
    gw = ctx.start_gateway("gateway-s", "s", subs)
    failed = ctx.services.wait_ready(["gateway-s"])
    if failed:
        out["gateway"] = {"available": False, "error": gw.log_tail()}
        return out
    groups = [ctx.normalize_group("s", f) for f in FAMILY_NAMES]
    probe = ctx.probe("s", groups)
    await probe.start()
    probe.start_sampling(0.5)
    try:
        before = gw.sample()
        t0 = time.monotonic()
        summary = await fleet.publish(items, ctx.stack.mqtt_port, ctx.work / "stage.log", 0.0, f"bench{ctx.run_id}-st")
        published = summary.published
        await _wait(probe, lambda c: sum(c.raw.values()) >= published, sizes.drain_timeout_s, progress, "gateway")
        t1 = time.monotonic()
        after = gw.sample()
        win = _window(probe.samples, t0, t1)
        xs, ys = _series(win, lambda c: sum(c.raw.values()))
        # the gateway's rate over the whole burst: publish start until the raw topics hold it all
        t_done = next((s.t for s in win if sum(s.raw.values()) >= published), t1)
        out["gateway"] = {
            "available": True, "messages": published, "publisher_msg_per_s": round(published / summary.wall_s, 1),
            "msg_per_s": round(published / max(1e-6, t_done - t0), 1),
            "steady_msg_per_s": round(steady_rate(xs, ys), 1), "cpu": _cpu(gw, before, after, published),
        }
        ctx.services.stop("gateway-s")

        out["normalize"] = {}
        for fam in FAMILY_NAMES:
            progress.phase(f"stage: normalize {fam} alone (drain the raw backlog)")
            name = f"normalize-s-{fam}"
            svc = ctx.start_normalize(name, "s", fam)
            if ctx.services.wait_ready([name]):
                out["normalize"][fam] = {"available": False, "error": svc.log_tail()}
                continue
            target = probe.samples[-1].raw.get(fam, 0)
            before = svc.sample()
            t0 = time.monotonic()
            ok = await _wait(probe, _normalized_at_least(fam, target),
                             sizes.drain_timeout_s, progress, f"normalize {fam}")
            t1 = time.monotonic()
            after = svc.sample()
            win = _window(probe.samples, t0, t1)
            xs, ys = _series(win, _normalized_of(fam))
            xr, yr = _series(win, _records_of(fam))
            out["normalize"][fam] = {
                "available": True, "complete": ok, "messages": target,
                "msg_per_s": round(steady_rate(xs, ys), 1), "records_per_s": round(steady_rate(xr, yr), 1),
                "records": int(yr[-1] - yr[0]) if yr else 0, "cpu": _cpu(svc, before, after, target),
            }
            ctx.services.stop(name)

        progress.phase("stage: sink alone (drain the data backlog)")
        sink = ctx.start_sink("sink-s", "s")
        if ctx.services.wait_ready(["sink-s"], fallback={"sink-s": ctx.sink_tables_ready}):
            out["sink"] = {"available": False, "error": sink.log_tail()}
        else:
            total = sum(probe.samples[-1].data.values())
            before = sink.sample()
            t0 = time.monotonic()
            ok = await _wait(probe, lambda c: c.sunk >= total, sizes.drain_timeout_s, progress, "sink")
            t1 = time.monotonic()
            after = sink.sample()
            xs, ys = _series(_window(probe.samples, t0, t1), lambda c: c.sunk)
            out["sink"] = {"available": True, "complete": ok, "rows": total,
                           "rows_per_s": round(steady_rate(xs, ys), 1), "cpu": _cpu(sink, before, after, total)}
        ctx.services.stop("sink-s")
    finally:
        await probe.close()
    return out


# The end-to-end gateway keeps its MQTT session while stopped, so that the saturation backlog can
# be queued in the broker before it starts (discarded at cleanup).
_E2E_SESSION_S = 900


def _instances(stage: str, scale: int) -> list[str]:
    """Process names of one stage: ``normalize``, ``normalize-2``, ... (one consumer group)."""
    return [stage] + [f"{stage}-{k}" for k in range(2, scale + 1)]


async def _start_pipeline(ctx: RunContext, subs: list[str], scale: int) -> list[str]:
    await ctx.create_topics("e")
    ctx.start_gateway("gateway", "e", subs, session_expiry_s=_E2E_SESSION_S)
    for name in _instances("normalize", scale):
        ctx.start_normalize(name, "e")
    for name in _instances("sink", scale):
        ctx.start_sink(name, "e")
    names = ["gateway", *_instances("normalize", scale), *_instances("sink", scale)]
    return ctx.services.wait_ready(names, fallback={n: ctx.sink_tables_ready for n in _instances("sink", scale)})


def _stage_cpu(rows: list[dict[str, Any]], scale: int) -> list[dict[str, Any]]:
    """One CPU row per stage: the instances of a scaled-out stage summed (``processes`` says how many)."""
    if scale == 1:
        return rows
    out: list[dict[str, Any]] = []
    for stage in ("gateway", "normalize", "sink"):
        mine = [r for r in rows if r["process"] in _instances(stage, scale)]
        if any(r["cpu_s"] is None for r in mine):
            out.append({"process": stage, "cpu_s": None, "cpu_ms_per_message": None})
            continue
        out.append({"process": stage, "processes": len(mine),
                    **{k: round(sum(r[k] for r in mine), 4) for k in ("cpu_s", "cpu_ms_per_message", "cores_busy")}})
    return out


def _drained(published: int) -> Callable[[Counters], bool]:
    # A few foreign messages can match the subscriptions on the shared broker (another test's
    # Sparkplug group) and may never produce rows, so a small remainder counts as drained.
    def check(c: Counters) -> bool:
        raw = sum(c.raw.values())
        data = sum(c.data.values())
        return (raw >= published and raw - sum(c.normalized.values()) <= max(5, raw // 1000)
                and data - c.sunk <= max(5, data // 1000) and c.sunk > 0)
    return check


async def _publish_and_drain(
    ctx: RunContext, probe: Probe, items: list[Any], *, speed: float, name: str, sizes: Sizes, progress: Progress,
    preload: tuple[list[str], float] | None = None,
) -> dict[str, Any]:
    """Publish one phase, wait until every stage has caught up; throughput, backlogs and CPU.

    With ``preload`` (the gateway's subscriptions and its start-up CPU seconds) the gateway is
    stopped while the phase is published, so the whole phase queues in the broker for its session;
    the clock starts when it is started again. The pipeline is then measured, not the publisher.
    """
    pids = infra_pids()
    log = ctx.work / f"{name}.log"
    start_count = probe.samples[-1] if probe.samples else await probe.sample()
    startup_cpu = 0.0
    if preload is not None:
        ctx.services.stop("gateway")
        t_pub0 = time.monotonic()
        summary = await fleet.publish(items, ctx.stack.mqtt_port, log, speed, f"bench{ctx.run_id}-{name[:3]}")
        pub_s = time.monotonic() - t_pub0
        subs, startup_cpu = preload
    procs_names = ("gateway", *_instances("normalize", sizes.scale), *_instances("sink", sizes.scale))
    me_before = read_proc(os.getpid())
    infra_before = infra_cpu_s(pids)
    t0, wall0 = time.monotonic(), time.time()
    if preload is not None:
        ctx.start_gateway("gateway", "e", subs, session_expiry_s=_E2E_SESSION_S)
    procs = [ctx.services.services[n] for n in procs_names]
    before = {p.name: p.sample() for p in procs}
    samplers = ([sampling.Sampler(p.name, p.pid, ctx.work / f"{name}-{p.name}.raw") for p in procs]
                if sizes.profile and preload is not None and sampling.available() else [])
    for sampler in samplers:
        sampler.start()
    if preload is None:
        summary = await fleet.publish(items, ctx.stack.mqtt_port, log, speed, f"bench{ctx.run_id}-{name[:3]}")
        pub_s = time.monotonic() - t0
        at_end = await probe.sample()
    else:
        # backlogs are judged by steady rates below; this sample only keeps the fields filled
        await _wait(probe, lambda c: sum(c.raw.values()) - sum(start_count.raw.values()) >= summary.published,
                    sizes.drain_timeout_s, progress, f"{name} (gateway draining the broker)")
        at_end = await probe.sample()
    published = summary.published + sum(start_count.raw.values())
    ok = await _wait(probe, _drained(published), sizes.drain_timeout_s, progress, name)
    t1 = time.monotonic()
    after = {p.name: p.sample() for p in procs}
    me_after = read_proc(os.getpid())
    infra_after = infra_cpu_s(pids)
    for sampler in samplers:
        await asyncio.to_thread(sampler.stop)
    profiles = {s.name: sampling.summarize(s.out) for s in samplers}
    win = _window(probe.samples, t0, t1)
    final = win[-1]
    rows = final.sunk - start_count.sunk
    # the moment the last row of this phase's messages landed, from provenance (wall clock), so
    # that rows of foreign messages trickling in later do not stretch the span
    ingest = await fleet.stored_hashes(ctx.stack.pg_dsn, ctx.schema, list(fleet.ok_hashes(log)))
    sends = fleet.send_times(log)
    if ingest and sends:
        # pre-loaded: from the gateway's start (wall clock); else from the first publish
        span = max(1e-6, max(ingest.values()) - (wall0 if preload is not None else min(sends)))
        t_done = t0 + span
    else:
        t_done = next((s.t for s in win if s.sunk >= final.sunk), t1)
        span = max(1e-6, t_done - t0)
    raw_n = sum(final.raw.values()) - sum(start_count.raw.values())
    data_n = sum(final.data.values()) - sum(start_count.data.values())
    backlogs = [
        ("gateway", float(summary.published - (sum(at_end.raw.values()) - sum(start_count.raw.values()))),
         float(summary.published)),
        ("normalize", float(sum(at_end.raw.values()) - sum(at_end.normalized.values())), float(raw_n)),
        ("sink", float(sum(at_end.data.values()) - at_end.sunk), float(data_n)),
    ]
    xg, yg = _series(win, lambda c: sum(c.raw.values()))
    xn, yn = _series(win, lambda c: sum(c.normalized.values()))
    xs, ys = _series(win, lambda c: c.sunk)
    steady = {"gateway_msg_per_s": round(steady_rate(xg, yg), 1),
              "normalize_msg_per_s": round(steady_rate(xn, yn), 1),
              "sink_rows_per_s": round(steady_rate(xs, ys), 1)}
    cpu = _stage_cpu([_cpu(p, before[p.name], after[p.name], summary.published) for p in procs], sizes.scale)
    if preload is not None and cpu[0]["cpu_s"] is not None:
        # the restarted gateway's clock includes its start-up (imports, connect), measured alone
        # when the pipeline started; the figure per message leaves it out
        cpu[0]["startup_cpu_s"] = round(startup_cpu, 3)
        net = max(0.0, cpu[0]["cpu_s"] - startup_cpu)
        cpu[0]["cpu_ms_per_message"] = round(net * 1000 / max(1, summary.published), 4)
    cpu.extend(infra_rows(infra_before, infra_after, t1 - t0, summary.published))
    if me_before and me_after and preload is None:
        cpu.append({"process": "harness (publisher)", "cpu_s": round(me_after.cpu_s - me_before.cpu_s, 3),
                    "cpu_ms_per_message": round((me_after.cpu_s - me_before.cpu_s) * 1000 / max(1, summary.published), 4),
                    "cores_busy": round((me_after.cpu_s - me_before.cpu_s) / max(1e-6, me_after.t - me_before.t), 3)})
    return {
        "drained": ok, "messages": summary.published, "messages_stored": len(ingest), "outcomes": dict(summary.outcomes),
        "rows": rows, "rows_per_message": round(rows / max(1, summary.published), 3),
        "preloaded": preload is not None,
        "publish_s": round(pub_s, 3), "publisher_msg_per_s": round(summary.published / max(1e-6, pub_s), 1),
        "e2e_s": round(span, 3), "msg_per_s": round(summary.published / span, 1), "rows_per_s": round(rows / span, 1),
        "steady": steady,
        "backlog_at_publish_end": {n: b for n, b, _ in backlogs},
        "first_saturated": (slowest_stage(steady, rows / max(1, summary.published))
                            if preload is not None
                            else first_backlogged(backlogs) or "none (offered load was the limit)"),
        "cpu": cpu, "profile": profiles, "log": str(log), "t0": t0, "t1": t1,
    }


async def _oracle(ctx: RunContext, log: Path) -> dict[str, Any]:
    options = VerifyOptions(bootstrap=ctx.stack.kafka_bootstrap, topic_prefix=ctx.prefix("e"),
                            dsn=ctx.stack.pg_dsn, schema=ctx.schema, timeout_s=30.0)
    try:
        report = await asyncio.wait_for(verify_async(log, options), timeout=90)
    except Exception as exc:
        return {"checked": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    total = report.totals
    groups = {name: {"acknowledged": g.acknowledged, "stored": g.stored, "lost": g.lost}
              for name, g in report.groups.items() if g.lost or g.duplicated}
    return {"checked": True, "groups_with_loss": groups, "lost_sample": report.lost_ids[:10], "ok": report.ok, "acknowledged": total.acknowledged, "stored": total.stored,
            "dead_lettered": total.dead_lettered, "lost": total.lost, "duplicated": total.duplicated,
            "unexpected": total.unexpected}


async def run_e2e(ctx: RunContext, sizes: Sizes, progress: Progress) -> dict[str, Any]:
    """End to end: saturation (flat out), latency at half of it, then a 10x overload for RSS."""
    configs = _phase_configs(ctx, sizes)
    subs = fleet.subscriptions(configs.values(), ctx.driver)
    progress.phase("end to end: generate saturation traffic")
    sat_items = fleet.pregenerate(configs["saturation"])
    progress.phase("end to end: start gateway, normalize, sink")
    failed = await _start_pipeline(ctx, subs, sizes.scale)
    out: dict[str, Any] = {}
    if failed:
        out["error"] = {n: ctx.services.services[n].log_tail() for n in failed if n in ctx.services.services}
        return out
    ready = ctx.services.services["gateway"].sample()  # start-up without a backlog: imports, connect
    startup_cpu = ready.cpu_s if ready is not None else 0.0
    probe = ctx.probe("e", [ctx.normalize_group("e")])
    await probe.start()
    probe.start_sampling(0.5)
    try:
        progress.phase(f"end to end: saturation ({fleet.message_count(sat_items)} messages pre-loaded in the broker)")
        sat = await _publish_and_drain(ctx, probe, sat_items, speed=0.0, name="saturation", sizes=sizes,
                                       progress=progress, preload=(subs, startup_cpu))
        del sat_items
        progress.phase("end to end: counting oracle on the saturation run")
        sat["oracle"] = await _oracle(ctx, Path(sat["log"]))
        out["saturation"] = sat

        half = max(10.0, 0.5 * sat["msg_per_s"])
        progress.phase(f"end to end: fixed load {half:.0f} msg/s (50% of saturation) for {sizes.latency_s:.0f} s")
        cfg = configs["latency"]
        cfg = fleet.fleet_config(cfg.seed, half, sizes.latency_s, ctx.driver)
        lat_items = fleet.pregenerate(cfg)
        lat = await _publish_and_drain(ctx, probe, lat_items, speed=1.0, name="latency", sizes=sizes, progress=progress)
        del lat_items
        log = Path(lat["log"])
        ingest = await fleet.stored_hashes(ctx.stack.pg_dsn, ctx.schema, list(fleet.ok_hashes(log)))
        values, repeats = fleet.latencies_ms(log, ingest)
        lat["offered_msg_per_s"] = round(half, 1)
        lat["latency_ms"] = {"n": len(values), "repeats_stored_earlier": repeats, **{f"p{q}": _r(percentile(values, q)) for q in (50, 95, 99)},
                             "max": _r(max(values) if values else None)}
        lat["latency_samples_ms"] = [round(v, 2) for v in values]
        out["latency"] = lat

        out["overload"] = await _overload(ctx, probe, configs["overload"], subs, rate=10.0 * sat["msg_per_s"], sizes=sizes, progress=progress)
        out["series"] = [s.as_dict() for s in probe.samples]
    finally:
        await probe.close()
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _overload(
    ctx: RunContext, probe: Probe, cfg: FleetConfig, subs: list[str], *, rate: float, sizes: Sizes, progress: Progress
) -> dict[str, Any]:
    """Offer ``rate`` msg/s through a private broker for ``sizes.overload_s``; RSS of each process."""
    templates = agri_templates(fleet.pregenerate(cfg))
    if not templates:
        return {"available": False, "error": "no single-line ChirpStack uplinks in the fleet"}
    progress.phase(f"overload: {rate:.0f} msg/s offered (10x saturation) for {sizes.overload_s:.0f} s")
    ctx.services.stop("gateway")
    broker = PrivateBroker(free_port(), ctx.work)
    blaster: Blaster | None = None
    try:
        await asyncio.to_thread(broker.start)
        agri_subs = [s for s in subs if s.startswith("application/")]
        gw = ctx.start_gateway("gateway-overload", "e", agri_subs, mqtt_port=broker.port)
        if ctx.services.wait_ready(["gateway-overload"]):
            return {"available": False, "error": gw.log_tail()}
        procs = [ctx.services.services[n] for n in ("gateway-overload", "normalize", "sink")]
        rss: dict[str, list[tuple[float, int]]] = {p.name: [] for p in procs}
        blaster = Blaster(broker.port, templates, rate, ctx.work)
        first = probe.samples[-1] if probe.samples else await probe.sample()
        t0 = time.monotonic()
        while (now := time.monotonic()) - t0 < sizes.overload_s:
            blaster.tick()
            for p in procs:
                s = p.sample()
                if s is not None:
                    rss[p.name].append((s.t - t0, s.rss_bytes))
            progress.status(f"overload {now - t0:4.0f}/{sizes.overload_s:.0f} s: sent {blaster.sent}, "
                            + ", ".join(f"{n} {v[-1][1] / 2**20:.0f} MiB" for n, v in rss.items() if v))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
        hold = time.monotonic() - t0
        blaster.stop()
        last = await probe.sample()
    finally:
        if blaster is not None:
            with contextlib.suppress(Exception):
                blaster.stop()
        ctx.services.stop("gateway-overload")
        await asyncio.to_thread(broker.stop)
    verdicts = {}
    for name, points in rss.items():
        v = rss_verdict([t for t, _ in points], [float(b) for _, b in points])
        verdicts[name] = {"flat": v.flat, "slope_kib_per_s": round(v.slope_bytes_per_s / 1024, 2),
                          "growth_last_half": round(v.growth_fraction, 4),
                          "rss_mib_start": round(points[0][1] / 2**20, 1) if points else None,
                          "rss_mib_end": round(points[-1][1] / 2**20, 1) if points else None,
                          "rss_mib_max": round(max(b for _, b in points) / 2**20, 1) if points else None,
                          "samples": [(round(t, 1), round(b / 2**20, 2)) for t, b in points]}
    return {
        "available": True, "target_msg_per_s": round(rate, 1), "hold_s": round(hold, 1),
        "offered_msg_per_s": round(blaster.sent / max(1e-6, hold), 1) if blaster else None,
        "lanes_behind": blaster.skipped if blaster else None,
        "gateway_msg_per_s": round((sum(last.raw.values()) - sum(first.raw.values())) / max(1e-6, hold), 1),
        "stored_rows_per_s": round((last.sunk - first.sunk) / max(1e-6, hold), 1),
        "rss": verdicts,
    }
