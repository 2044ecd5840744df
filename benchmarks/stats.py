"""Pure helpers of the benchmark: percentiles, rates from counter samples, RSS slope verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SlopeVerdict",
    "first_backlogged",
    "first_saturated",
    "linear_slope",
    "percentile",
    "ratio",
    "rss_verdict",
    "slowest_stage",
    "steady_rate",
    "window_rates",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    if not 0.0 <= q <= 100.0:
        msg = f"percentile must be within [0, 100], got {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0.0 with fewer than two distinct xs)."""
    n = len(xs)
    if n != len(ys):
        msg = "xs and ys must have the same length"
        raise ValueError(msg)
    if n < 2:
        return 0.0
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


@dataclass(frozen=True)
class SlopeVerdict:
    """RSS trend over the last half of an overload: slope, relative growth and whether it is flat."""

    slope_bytes_per_s: float
    growth_fraction: float  # projected growth over the window, relative to its mean RSS
    flat: bool
    samples: int


def rss_verdict(
    times_s: Sequence[float], rss_bytes: Sequence[float], tolerance: float = 0.05
) -> SlopeVerdict:
    """Flat when the least-squares trend of the last half grows less than ``tolerance`` of its mean.

    The first half is ignored so that start-up growth (caches, buffers filling) is not counted as
    a leak; a process whose memory still climbs steadily in the second half is "not flat".
    """
    n = len(times_s)
    if n != len(rss_bytes):
        msg = "times and rss samples must have the same length"
        raise ValueError(msg)
    half = n // 2
    xs = list(times_s[half:])
    ys = list(rss_bytes[half:])
    if len(xs) < 3:
        return SlopeVerdict(0.0, 0.0, False, len(xs))
    slope = linear_slope(xs, ys)
    span = xs[-1] - xs[0]
    mean = sum(ys) / len(ys)
    growth = slope * span / mean if mean > 0 else 0.0
    return SlopeVerdict(slope, growth, growth < tolerance, len(xs))


def window_rates(times_s: Sequence[float], counts: Sequence[float]) -> list[tuple[float, float]]:
    """(mid time, rate) between consecutive samples of a monotonic counter."""
    out: list[tuple[float, float]] = []
    for i in range(1, len(times_s)):
        dt = times_s[i] - times_s[i - 1]
        if dt > 0:
            out.append(((times_s[i] + times_s[i - 1]) / 2, (counts[i] - counts[i - 1]) / dt))
    return out


def steady_rate(times_s: Sequence[float], counts: Sequence[float], trim: float = 0.2) -> float:
    """Rate of a counter over its busy span, trimming ``trim`` of that span at each end.

    The busy span runs from the first sample where the counter moved to the last one where it
    moved, so idle time before and after the run does not dilute the figure.
    """
    if len(times_s) != len(counts):
        msg = "times and counts must have the same length"
        raise ValueError(msg)
    moving = [i for i in range(1, len(counts)) if counts[i] != counts[i - 1]]
    if not moving:
        return 0.0
    start, end = moving[0] - 1, moving[-1]
    t0, t1 = times_s[start], times_s[end]
    span = t1 - t0
    if span <= 0:
        return 0.0
    lo_t, hi_t = t0 + span * trim, t1 - span * trim
    idx = [i for i in range(start, end + 1) if lo_t <= times_s[i] <= hi_t]
    if len(idx) < 2:
        return (counts[end] - counts[start]) / span
    a, b = idx[0], idx[-1]
    return (counts[b] - counts[a]) / (times_s[b] - times_s[a])


def ratio(value: float | None, limit: float | None) -> float | None:
    """Value / limit, or None when either is missing or the limit is not positive."""
    if value is None or limit is None or limit <= 0:
        return None
    return value / limit


def first_saturated(stages: Sequence[tuple[str, float | None]]) -> str | None:
    """The pipeline stage (in pipeline order) with the lowest isolated rate: where load backs up first.

    Each stage is given as (name, sustainable messages/s); stages without a figure are skipped.
    """
    known = [(name, rate) for name, rate in stages if rate is not None and rate > 0]
    if not known:
        return None
    return min(known, key=lambda pair: pair[1])[0]


def first_backlogged(
    backlogs: Sequence[tuple[str, float, float]], threshold: float = 0.05
) -> str | None:
    """The first stage, in pipeline order, left with a backlog when the offered load stopped.

    Each stage is (name, backlog at the end of publishing, items it had to handle); a stage is
    backlogged when its backlog exceeds ``threshold`` of its items. Downstream stages of a
    saturated one are throttled by it, so the first backlogged stage is the one that saturates.
    """
    for name, backlog, items in backlogs:
        if items > 0 and backlog / items > threshold:
            return name
    return None


def slowest_stage(steady: dict[str, float], rows_per_message: float) -> str:
    """With a pre-loaded backlog every stage is busy at once: the slowest steady rate in msg/s."""
    rates = {"gateway": steady["gateway_msg_per_s"], "normalize": steady["normalize_msg_per_s"],
             "sink": steady["sink_rows_per_s"] / rows_per_message if rows_per_message else 0.0}
    live = {k: v for k, v in rates.items() if v > 0}
    return min(live, key=lambda k: live[k]) if live else "n/a"
