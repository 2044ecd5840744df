"""``python -m benchmarks [--quick]``: limits, stages and end to end on this machine, as one run.

Order: the machine's limits (MQTT C clients, Kafka producer, raw COPY), then each stage alone,
then the whole pipeline at saturation, at half of it (latency) and under a 10x overload (RSS).
Writes ``benchmarks/results/<timestamp>.json`` and ``.png`` and prints a table; see
docs/benchmarks.md for how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import fleet, limits
from benchmarks.mqtt_login import bench_login
from benchmarks.phases import FULL, QUICK, Sizes, run_e2e, run_stages
from benchmarks.pipeline import RunContext
from benchmarks.plot import write_plot
from benchmarks.probe import delete_topics
from benchmarks.progress import Progress
from benchmarks.report import CPU_HEADERS, cpu_rows, format_table, headline_rows, profile_lines

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Per-stage scripts owned by other areas: run in the full mode when present, output kept verbatim.
MICRO: dict[str, list[str]] = {
    "decode_v2x": ["--seconds", "1"],
    "decode_iiot_agri": ["--seconds", "1"],
    # N = 100,000: at 20,000 the C client's start-up weighs on its figure (issue 21)
    "gateway_ingest": ["--messages", "100000", "--rounds", "3"],
    "normalize_rate": ["--messages", "2000"],
    "sink_copy": ["--rows", "10000"],
    # MirrorMaker 2 to a private province: lag under steady load, throughput vs the producer limit
    "replication": ["--rate", "150", "--seconds", "20", "--records", "50000"],
}


QUICK_MICRO = ("gateway_ingest",)
QUICK_ARGS = {"gateway_ingest": ["--messages", "20000", "--rounds", "3"]}
# Seconds each script may take; the gateway's drain loads and drains 3 x N messages three times.
TIMEOUT_S = {"gateway_ingest": 900}


def _script_args(name: str, quick: bool) -> list[str]:
    extra = QUICK_ARGS.get(name, MICRO[name]) if quick else MICRO[name]
    if name == "normalize_rate":  # the run's Kafka, not the script's default address
        boot = os.environ.get("SENSEGATE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
        extra = [*extra, "--bootstrap", boot]
    return extra


def _target_from_env() -> limits.StackTarget:
    port = int(os.environ.get("SENSEGATE_MQTT__PORT", "11883"))
    return limits.StackTarget(
        mqtt_port=port,
        kafka_bootstrap=os.environ.get("SENSEGATE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
        pg_dsn=os.environ["SENSEGATE_DB__DSN"],  # operator.env (the Makefile sources it)
        kafka_client_config=limits.admin_client_properties(),
    )


async def _limits(target: limits.StackTarget, sizes: Sizes, progress: Progress, run_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    q0, q1 = sizes.mqtt_limit_messages
    steps = [
        ("mqtt_qos0", f"limit: MQTT C clients QoS 0 ({q0} messages)", lambda: limits.mqtt_c_client_limit(target, 0, q0)),
        ("mqtt_qos1", f"limit: MQTT C clients QoS 1 ({q1} messages)", lambda: limits.mqtt_c_client_limit(target, 1, q1)),
        ("kafka_producer", f"limit: Kafka ProducerPerformance ({sizes.kafka_limit_records} records)",
         lambda: limits.kafka_producer_limit(target, sizes.kafka_limit_records, topic=f"bench{run_id}l.producer")),
        ("copy", f"limit: raw COPY ({sizes.copy_limit_rows} rows)", lambda: limits.copy_limit(target, sizes.copy_limit_rows)),
    ]
    for key, label, fn in steps:
        progress.phase(label)
        try:
            out[key] = await asyncio.to_thread(fn)
        except Exception as exc:
            out[key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def _present_scripts(here: Path) -> set[str]:
    return {name for name in MICRO if (here / f"{name}.py").exists()}


async def _micro(progress: Progress, only: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    here = HERE
    present = _present_scripts(here)
    for name in MICRO:
        extra = _script_args(name, quick=only is not None)
        if only is not None and name not in only:
            out[name] = {"skipped": "--quick"}
            continue
        if name not in present:
            out[name] = {"available": False}
            continue
        progress.phase(f"micro-benchmark: {name}")
        done = await asyncio.to_thread(_run_script, [sys.executable, "-m", f"benchmarks.{name}", *extra],
                                       here.parent, TIMEOUT_S.get(name, 180))
        if done is None:
            out[name] = {"available": False, "error": f"timed out after {TIMEOUT_S.get(name, 180)} s"}
        else:
            out[name] = {"available": done[0] == 0, "args": extra, "output": done[1][-3000:]}
    return out


def _run_script(argv: list[str], cwd: Path, timeout_s: float) -> tuple[int, str] | None:
    """Run one script in a process group of its own; (exit code, output), None on timeout.

    On timeout the whole group is ended (SIGTERM, then SIGKILL): a script's own children, such as
    the gateway of ``gateway_ingest``, would otherwise outlive it.
    """
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.communicate(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        return None
    return proc.returncode, stdout or stderr


async def _run(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    sizes = dataclasses.replace(QUICK if args.quick else FULL, scale=min(max(args.scale, 1), 3),
                                profile=args.profile)
    target = _target_from_env()
    work = fleet.temp_dir("sensegate-bench-")
    ctx = RunContext(target, work)
    atexit.register(ctx.services.close)
    results: dict[str, Any] = {
        "run_id": ctx.run_id, "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_start": os.getloadavg()},
        "sizes": sizes.__dict__,
    }
    t0 = time.monotonic()
    try:
        results["limits"] = await _limits(target, sizes, progress, ctx.run_id)
        if not args.limits_only:
            for key, step in (("stages", run_stages), ("e2e", run_e2e)):
                try:
                    results[key] = await step(ctx, sizes, progress)
                except Exception as exc:  # a broken phase is reported; the others still run
                    logging.getLogger("benchmarks").exception("phase %s failed", key)
                    results[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                ctx.services.close()
            # Quick mode keeps the gateway's drain benchmark: the report's gateway verdict needs it.
            results["micro"] = await _micro(progress, QUICK_MICRO if args.quick else None)
    finally:
        progress.phase("cleanup: stop processes, delete topics, drop schema")
        results["cleanup"] = await ctx.cleanup()
        with contextlib.suppress(Exception):  # best effort; the report already has its figures
            await delete_topics(target.kafka_bootstrap, f"bench{ctx.run_id}l.")
        failed = any(isinstance(results.get(k), dict) and "error" in results[k] for k in ("stages", "e2e"))
        if failed:
            results["work_dir"] = str(work)  # process logs kept for the post-mortem
        else:
            shutil.rmtree(work, ignore_errors=True)
        results["machine"]["load_avg_end"] = os.getloadavg()
        results["wall_s"] = round(time.monotonic() - t0, 1)
    return results


def _write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(results, indent=1, default=str))
    png = write_plot(results, out_dir / f"{stamp}.png")
    return json_path, png


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code (figures never make it fail)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short mode: about 3 minutes")
    parser.add_argument("--limits-only", action="store_true", help="measure the machine's limits only")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    parser.add_argument("--profile", action="store_true",
                        help="sample gateway, normalize and sink with py-spy during the saturation run "
                             "and print where their CPU goes")
    parser.add_argument("--scale", type=int, default=1,
                        help="end to end with this many normalize and sink processes each, one consumer "
                             "group per stage (1-3: the run's topics have 3 partitions)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    progress = Progress(enabled=not args.no_progress)
    # SIGTERM behaves like Ctrl-C so the finally blocks stop every process the run started
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # The broker refuses anonymous clients: every process and C client of the run inherits a
    # throwaway benchmark login (benchmarks/mqtt_login.py).
    login = bench_login(dict(os.environ), int(os.environ.get("SENSEGATE_MQTT__PORT", "11883")))
    os.environ.update(login.env())
    try:
        results = asyncio.run(_run(args, progress))
    except KeyboardInterrupt:
        print("interrupted: processes stopped, topics and schema removed", file=sys.stderr)
        return 130
    finally:
        login.close()
    json_path, png = _write(results, args.out)
    print()
    print(f"sensegate benchmark ({results['mode']}, run {results['run_id']}, {results['wall_s']} s, "
          f"{results['machine']['cpus']} CPUs, load {results['machine']['load_avg_start'][0]:.1f})")
    print(format_table(["figure", "value", "limit", "ratio", "target", "verdict"], headline_rows(results)))
    cpu = cpu_rows(results)
    if cpu:
        print()
        print(format_table(CPU_HEADERS, cpu))
    for line in profile_lines(results):
        print(line)
    print()
    print(f"results: {json_path}")
    if png is not None:
        print(f"plot:    {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
