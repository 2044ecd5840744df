"""Simulated-time helpers: C-V2X time fields, RFC 3339 strings, and the run's start time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["dsecond", "iso_utc", "minute_of_year", "now_ms", "parse_start_time"]


def now_ms() -> int:
    """Wall-clock Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def parse_start_time(text: str | None) -> int | None:
    """Parse ``--start-time`` (ISO 8601 or Unix ms) to Unix ms; None stays None (= now)."""
    if text is None or text == "":
        return None
    if text.isdigit():
        return int(text)
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def minute_of_year(t_ms: int) -> int:
    """C-V2X ``MinuteOfTheYear``: minutes since 1 January 00:00 UTC of ``t_ms``'s year."""
    stamp = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    start = datetime(stamp.year, 1, 1, tzinfo=UTC)
    return int((stamp - start).total_seconds() // 60)


def dsecond(t_ms: int) -> int:
    """C-V2X ``DSecond`` (secMark/timeStamp): milliseconds within the current UTC minute."""
    return t_ms % 60_000


def iso_utc(t_ms: int) -> str:
    """RFC 3339 UTC string with millisecond precision, e.g. ``2026-01-01T00:00:00.500Z``."""
    stamp = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}Z"
