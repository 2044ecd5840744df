"""The terminal table and the headline figures, computed from the results document (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.gateway_ingest import RESULT_PREFIX
from benchmarks.stats import first_saturated, ratio

__all__ = ["CPU_HEADERS", "CPU_TARGETS_MS", "TARGETS", "fmt_num", "format_table", "gateway_ingest_result", "headline_rows", "profile_lines"]

# Targets of issues 9 and 21: printed next to the figures, never asserted.
TARGETS = {
    "e2e_ratio": 0.20,  # of the MQTT C-client QoS 1 limit of the same run (issue 21)
    "p99_ms": 250.0,
    "gateway_ratio": 0.40,
}
# CPU per message (ms) on the mixed fleet in the saturation run (issue 21); the sink's is per row.
CPU_TARGETS_MS = {"gateway": 0.03, "normalize": 0.06, "sink": 0.04}

NA = "not available"


def fmt_num(value: float | None, unit: str = "", digits: int = 0) -> str:
    """Thousands-separated number with unit; 'n/a' for None."""
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table with a header rule (columns padded to the widest cell)."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            msg = f"row has {len(row)} cells, expected {len(headers)}"
            raise ValueError(msg)
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([line, rule, *body])


def _get(doc: Mapping[str, Any], *path: str) -> Any:
    cur: Any = doc
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def gateway_ingest_result(results: Mapping[str, Any]) -> dict[str, float] | None:
    """The figures line of ``benchmarks.gateway_ingest`` from the micro-benchmark output, if any."""
    output = _get(results, "micro", "gateway_ingest", "output")
    if not isinstance(output, str):
        return None
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                doc = json.loads(line[len(RESULT_PREFIX) :])
            except ValueError:
                return None
            return {str(k): float(v) for k, v in doc.items()} if isinstance(doc, dict) else None
    return None


def headline_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """Rows (figure, value, limit, ratio, target, verdict) of the summary table."""
    lim = results.get("limits", {})
    mqtt1 = _get(lim, "mqtt_qos1", "msg_per_s")
    mqtt0 = _get(lim, "mqtt_qos0", "msg_per_s")
    kafka = _get(lim, "kafka_producer", "msg_per_s")
    copy = _get(lim, "copy", "rows_per_s")
    rows: list[list[str]] = [
        ["limit: MQTT C clients QoS 0", fmt_num(mqtt0, "msg/s"), "", "", "", ""],
        ["limit: MQTT C clients QoS 1", fmt_num(mqtt1, "msg/s"), "", "", "", ""],
        ["limit: Kafka producer (acks=all)", fmt_num(kafka, "rec/s"), "", "", "", ""],
        ["limit: raw COPY", fmt_num(copy, "rows/s"), "", "", "", ""],
    ]
    st = results.get("stages", {})
    drain = gateway_ingest_result(results)
    d_gw = drain.get("gateway_msg_per_s") if drain else None
    d_c = drain.get("c_msg_per_s") if drain else None
    d_ratio = ratio(d_gw, d_c)
    n_drain = f" N={drain['messages']:,.0f}" if drain and "messages" in drain else ""
    c_start = (f" (its start-up {drain['c_startup_s']:.2f} s not counted)"
               if drain and "c_startup_s" in drain else "")
    rows.append(
        [
            f"stage: gateway ingest QoS 1 (drain{n_drain})",
            fmt_num(d_gw, "msg/s") if drain else NA,
            f"C client {fmt_num(d_c, 'msg/s')}{c_start}" if drain else "",
            _pct(d_ratio),
            f">= {TARGETS['gateway_ratio']:.0%} of C",
            _verdict(None if d_ratio is None else d_ratio >= TARGETS["gateway_ratio"]),
        ]
    )
    # Under the Python fleet simulator: bounded by that publisher, so shown without a verdict.
    gw = _get(st, "gateway", "msg_per_s") if _get(st, "gateway", "available") else None
    pub = _get(st, "gateway", "publisher_msg_per_s")
    rows.append(
        [
            "stage: gateway under the fleet publisher",
            fmt_num(gw, "msg/s") if gw is not None else NA,
            f"publisher {fmt_num(pub, 'msg/s')}" if pub is not None else "",
            _pct(ratio(gw, pub)),
            "",
            "",
        ]
    )
    norm_rates: list[float] = []
    for fam, doc in sorted((_get(st, "normalize") or {}).items()):
        if doc.get("available"):
            rec = doc.get("records_per_s")
            msg = doc.get("msg_per_s")
            if msg:
                norm_rates.append(float(msg))
            rows.append([f"stage: normalize {fam}", f"{fmt_num(rec, 'rec/s')} ({fmt_num(msg, 'msg/s')})",
                         fmt_num(kafka, "rec/s"), _pct(ratio(rec, kafka)), "", ""])
        else:
            rows.append([f"stage: normalize {fam}", NA, "", "", "", ""])
    sink = _get(st, "sink", "rows_per_s") if _get(st, "sink", "available") else None
    rows.append(["stage: sink", fmt_num(sink, "rows/s") if sink is not None else NA,
                 fmt_num(copy, "rows/s"), _pct(ratio(sink, copy)), "", ""])

    e2e = results.get("e2e", {})
    sat = e2e.get("saturation") or {}
    sat_msgs = sat.get("msg_per_s")
    oracle = sat.get("oracle") or {}
    lost = oracle.get("lost") if oracle.get("checked") else None
    e2e_ratio = ratio(sat_msgs, mqtt1)
    e2e_ok = None if e2e_ratio is None else (e2e_ratio >= TARGETS["e2e_ratio"] and lost == 0)
    how = " (pre-loaded backlog)" if sat.get("preloaded") else ""
    rows.append([f"e2e saturation (sustained){how}", f"{fmt_num(sat_msgs, 'msg/s')}, {fmt_num(sat.get('rows_per_s'), 'rows/s')}"
                 if sat_msgs is not None else NA, f"C QoS 1 {fmt_num(mqtt1, 'msg/s')}", _pct(e2e_ratio),
                 f">= {TARGETS['e2e_ratio']:.0%} of C QoS 1, 0 lost", _verdict(e2e_ok)])
    pub = sat.get("publisher_msg_per_s")
    rows.append(["e2e publisher (fills the backlog)", fmt_num(pub, "msg/s") if pub is not None else NA,
                 "", _pct(ratio(sat_msgs, pub)) if not sat.get("preloaded") else "", "", ""])
    rows.append(["e2e lost / duplicated (oracle)", "n/a" if lost is None else f"{lost} / {oracle.get('duplicated')}",
                 "", "", "0", _verdict(None if lost is None else lost == 0)])
    lat = _get(e2e, "latency", "latency_ms") or {}
    p99 = lat.get("p99")
    rows.append(["e2e latency p50/p95/p99 @50%",
                 "/".join(fmt_num(lat.get(k), digits=0) for k in ("p50", "p95", "p99")) + " ms" if lat else NA,
                 "", "", f"p99 < {TARGETS['p99_ms']:.0f} ms", _verdict(None if p99 is None else p99 < TARGETS["p99_ms"])])
    over = e2e.get("overload") or {}
    if over.get("available"):
        flats = {n: v["flat"] for n, v in over["rss"].items()}
        rows.append(["overload offered", f"{fmt_num(over.get('offered_msg_per_s'), 'msg/s')} for {over.get('hold_s')} s",
                     fmt_num(over.get("target_msg_per_s"), "msg/s"), _pct(ratio(over.get("offered_msg_per_s"), over.get("target_msg_per_s"))),
                     "10x saturation", ""])
        for name, v in over["rss"].items():
            rows.append([f"RSS {name}", f"{v['rss_mib_start']} -> {v['rss_mib_end']} MiB ({v['slope_kib_per_s']} KiB/s)",
                         "", "", "flat", _verdict(v["flat"])])
        rows.append(["RSS flat (all)", "yes" if all(flats.values()) else "no", "", "", "flat", _verdict(all(flats.values()))])
    else:
        rows.append(["overload RSS", NA, "", "", "flat", "n/a"])
    isolated = [("gateway", d_gw if d_gw is not None else gw), ("normalize", min(norm_rates) if norm_rates else None),
                ("sink", None if sink is None or not sat.get("rows_per_message") else sink / sat["rows_per_message"])]
    rows.append(["first stage to saturate (isolated)", first_saturated(isolated) or "n/a", "", "", "", ""])
    rows.append(["first stage to saturate (e2e backlog)", str(sat.get("first_saturated") or "n/a"), "", "", "", ""])
    return rows


CPU_HEADERS = ["process (saturation run)", "CPU per message", "cores busy", "target", "verdict"]


def cpu_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """Rows (process, CPU ms per message, cores busy, target, verdict) from the saturation phase.

    The sink's target is per row, so its row also shows CPU per row.
    """
    out: list[list[str]] = []
    sat = _get(results, "e2e", "saturation") or {}
    rows_n = sat.get("rows") or 0
    for doc in sat.get("cpu") or []:
        name = doc["process"]
        per_msg = doc.get("cpu_ms_per_message")
        value = fmt_num(per_msg, "ms", 3)
        target = CPU_TARGETS_MS.get(name)
        judged = per_msg
        if name == "sink" and doc.get("cpu_s") is not None and rows_n:
            judged = doc["cpu_s"] * 1000 / rows_n
            value += f" ({judged:.3f} ms per row)"
        out.append([name, value, fmt_num(doc.get("cores_busy"), digits=2),
                    "" if target is None else f"<= {target} ms" + (" per row" if name == "sink" else ""),
                    "" if target is None else _verdict(None if judged is None else judged <= target)])
    return out


def profile_lines(results: Mapping[str, Any], top: int = 8) -> list[str]:
    """Where each process's CPU went in the saturation run (py-spy, ``--profile``), as text lines."""
    out: list[str] = []
    for name, prof in (_get(results, "e2e", "saturation", "profile") or {}).items():
        if not prof.get("samples"):
            continue
        out += ["", f"{name}: {prof['samples']} samples; self time (leaf function) | inclusive"]
        pairs = zip(prof["self"][:top], prof["inclusive"][:top], strict=False)
        out += [f"  {s:5.1%} {fs[:60]:60s} | {i:5.1%} {fi[:60]}" for (fs, s), (fi, i) in pairs]
    return out
