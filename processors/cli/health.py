"""``python -m processors devices health``: per device last seen, completeness, gaps, DLQ share, skew."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from contracts.families import FAMILY_NAMES
from contracts.settings import DbConfig
from processors.catalog import Catalog
from processors.health.report import DeviceHealth, build_report, expected_interval
from processors.health.store import HealthRow, fetch_health
from processors.profiles import Profile, ProfileBook, load_profiles, parse_duration_s
from processors.profiles.store import fetch_profiles
from processors.registry.models import Device
from processors.registry.store import fetch_devices
from processors.storage.connect import run_with_connection

__all__ = ["add_health_arguments", "parse_span_s", "run_health"]

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_span_s(text: str) -> float:
    """Seconds of ``10m``, ``1h``, ``30s``, ``2d`` or an ISO 8601 duration (``PT10M``)."""
    m = _SPAN.match(text.strip())
    if m:
        return float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return parse_duration_s(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_health_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``devices health``."""
    parser.add_argument(
        "--silent-for",
        type=parse_span_s,
        default=None,
        help="list as silent when not seen for this long, e.g. 10m (default: 3 sampling intervals)",
    )
    parser.add_argument("--period", type=parse_span_s, default=3600.0, help="report period (1h)")
    parser.add_argument("--family", choices=FAMILY_NAMES)
    parser.add_argument("--silent-only", action="store_true", help="only the silent devices")
    parser.add_argument("--json", action="store_true")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def _line(h: DeviceHealth) -> str:
    seen = "never" if h.silent_s is None else f"{h.silent_s:8.0f}s ago"
    dlq = ",".join(f"{r}={s:.0%}" for r, s in h.dead_letter_share.items()) or "-"
    skew = "-" if h.skew_ms_mean is None else f"{h.skew_ms_mean / 1000:+.1f}s"
    flag = "SILENT" if h.silent else "ok"
    return (
        f"{h.family:5} {h.device_id:34} {flag:6} {seen:>14} msgs={h.messages:<6} "
        f"sched={_pct(h.completeness)} cnt={_pct(h.counter_completeness)} gaps={h.counter_gaps:<4}"
        f" skew={skew:>7} dlq={dlq}"
    )


def run_health(args: argparse.Namespace, db: DbConfig, catalog: Catalog) -> int:
    """Print the health report; exit code 0 (silence is reported, not an error of the command)."""
    now = datetime.now(UTC)
    since = now - timedelta(seconds=args.period)

    async def read(
        conn: psycopg.AsyncConnection[Any],
    ) -> tuple[list[Device], dict[tuple[str, str], HealthRow], list[Profile]]:
        devices = await fetch_devices(conn, db.schema_name)
        profiles = await fetch_profiles(conn, db.schema_name)
        return devices, await fetch_health(conn, since, db.schema_name), profiles

    stored, rows, registered = run_with_connection(db.dsn.get_secret_value(), read)
    devices = [d for d in stored if args.family in (None, d.family)]
    book = ProfileBook(load_profiles(catalog=catalog))
    book.add(registered)
    report = build_report(
        devices,
        rows,
        lambda d: expected_interval(d, book, catalog),
        now=now,
        period_s=args.period,
        silent_after_s=args.silent_for,
    )
    silent = [h for h in report if h.silent]
    shown = silent if args.silent_only else report
    if args.json:
        doc = {"devices": [h.as_dict() for h in shown], "silent": len(silent), "total": len(report)}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return 0
    for h in shown:
        sys.stdout.write(_line(h) + "\n")
    gaps = sum(h.counter_gaps for h in report)
    sys.stdout.write(
        f"{len(report)} devices, {len(silent)} silent, {gaps} counter gaps "
        f"(period {args.period:.0f}s)\n"
    )
    return 0
