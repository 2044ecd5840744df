"""Every C-V2X scale factor, sentinel and time resolution the codec uses, in one place, vectorised.

Functions take array-likes of raw CSAE integers and return float64 arrays in engineering units;
sentinel values ("unavailable", "unknown") become NaN. Times are resolved to Unix epoch
milliseconds against a reference clock (the vendor header time when present, else the receive
time), choosing the candidate nearest to that reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HOUR_MS",
    "MINUTE_MS",
    "acceleration_mps2",
    "coarse_heading_deg",
    "confidence_ratio",
    "distance_km",
    "elevation_m",
    "heading_deg",
    "lane_width_m",
    "lat_deg",
    "lon_deg",
    "priority_level",
    "radius_m",
    "resolve_dsecond",
    "resolve_moy",
    "resolve_moy_dsecond",
    "resolve_time_mark",
    "size_cm_m",
    "speed_mps",
    "time_mark_s",
    "vehicle_height_m",
    "vert_offset_m",
]

Floats = NDArray[np.float64]

DEG_PER_LSB = 1e-7  # Latitude, Longitude, OffsetLL-B*
ELEVATION_M = 0.1
SPEED_MPS = 0.02
HEADING_DEG = 0.0125
COARSE_HEADING_DEG = 1.5
SIZE_M = 0.01  # VehicleWidth/Length, LaneWidth: cm
HEIGHT_M = 0.05  # VehicleHeight: 5 cm
RADIUS_M = 0.1
TIME_MARK_S = 0.1
ACCEL_MPS2 = 0.01
MINUTE_MS = 60_000
HOUR_MS = 3_600_000

LAT_UNAVAILABLE = 900_000_001
LON_UNAVAILABLE = 1_800_000_001
ELEVATION_UNKNOWN = -4096
SPEED_UNAVAILABLE = 8191
HEADING_MAX = 28800  # 28800 would be 360 deg: outside 0..359.9875, treated as unavailable
COARSE_HEADING_UNAVAILABLE = 240
TIME_MARK_UNKNOWN = 36001
ACCEL_UNAVAILABLE = 2001
MOY_INVALID = 527040
DSECOND_MAX_VALID = 60999  # 60000..60999 is a leap second; 61000..65535 unavailable


# how far after its reference clock a DSecond may lie (clock skew; larger is a lateness)
DSECOND_AHEAD_MS = 10_000


def _scaled(raw: ArrayLike, factor: float, invalid: ArrayLike | None = None) -> Floats:
    values = np.asarray(raw, dtype=np.float64)
    out = values * factor
    if invalid is not None:
        for sentinel in np.atleast_1d(np.asarray(invalid, dtype=np.float64)):
            out[values == sentinel] = np.nan
    return out


def lat_deg(raw: ArrayLike) -> Floats:
    """Latitude in degrees (1e-7 degree units; 900000001 = unavailable)."""
    return _scaled(raw, DEG_PER_LSB, [LAT_UNAVAILABLE])


def lon_deg(raw: ArrayLike) -> Floats:
    """Longitude in degrees (1e-7 degree units; 1800000001 = unavailable)."""
    return _scaled(raw, DEG_PER_LSB, [LON_UNAVAILABLE])


def elevation_m(raw: ArrayLike) -> Floats:
    """Elevation in metres (0.1 m units; -4096 = unknown)."""
    return _scaled(raw, ELEVATION_M, [ELEVATION_UNKNOWN])


def vert_offset_m(raw: ArrayLike, bits: ArrayLike) -> Floats:
    """VertOffset-B07..B12 in metres; the most negative value of each width means unavailable."""
    values = np.asarray(raw, dtype=np.float64)
    floor = -np.exp2(np.asarray(bits, dtype=np.float64) - 1)
    out = values * ELEVATION_M
    out[values == floor] = np.nan
    return out


def speed_mps(raw: ArrayLike) -> Floats:
    """Speed in m/s (0.02 m/s units; 8191 = unavailable)."""
    return _scaled(raw, SPEED_MPS, [SPEED_UNAVAILABLE])


def heading_deg(raw: ArrayLike) -> Floats:
    """Heading in degrees clockwise from north, in [0, 360) (0.0125 degree units)."""
    values = np.asarray(raw, dtype=np.float64)
    out = values * HEADING_DEG
    out[(values < 0) | (values >= HEADING_MAX)] = np.nan
    return out


def coarse_heading_deg(raw: ArrayLike) -> Floats:
    """CoarseHeading in degrees (1.5 degree units; 240 = unavailable)."""
    return _scaled(raw, COARSE_HEADING_DEG, [COARSE_HEADING_UNAVAILABLE])


def size_cm_m(raw: ArrayLike) -> Floats:
    """Vehicle width/length or a lane/link width in metres (cm units; 0 = unknown in practice)."""
    values = np.asarray(raw, dtype=np.float64)
    out = values * SIZE_M
    out[values == 0] = np.nan
    return out


lane_width_m = size_cm_m


def vehicle_height_m(raw: ArrayLike) -> Floats:
    """Vehicle height in metres (5 cm units; 0 = unknown)."""
    values = np.asarray(raw, dtype=np.float64)
    out = values * HEIGHT_M
    out[values == 0] = np.nan
    return out


def radius_m(raw: ArrayLike) -> Floats:
    """RSI radius in metres (0.1 m units)."""
    return _scaled(raw, RADIUS_M)


def time_mark_s(raw: ArrayLike) -> Floats:
    """A TimeMark in seconds (0.1 s units; 36000 means more than an hour, 36001 unknown = NaN)."""
    return _scaled(raw, TIME_MARK_S, [TIME_MARK_UNKNOWN])


def acceleration_mps2(raw: ArrayLike) -> Floats:
    """Longitudinal/lateral acceleration in m/s^2 (0.01 units; 2001 = unavailable)."""
    return _scaled(raw, ACCEL_MPS2, [ACCEL_UNAVAILABLE])


def resolve_dsecond(
    dsecond: ArrayLike, reference_ms: int, ahead_ms: int = DSECOND_AHEAD_MS
) -> NDArray[np.int64]:
    """Epoch ms of DSecond values (ms within a UTC minute): the latest at most ``ahead_ms`` ahead.

    A message reaches the reference clock (the header time, or the gateway's receive time) late by
    any amount (broker queues during an outage) but early only by clock skew, so the minute is
    chosen from the past: a message up to 60 s - ``ahead_ms`` late resolves right. The nearest
    minute, used before, put a message 30-60 s late 0-30 s into the future, where the quality check
    refused it (the chaos test's ``future_timestamp`` dead letters). Later than that the minute is
    ambiguous and cannot be known from a DSecond alone (docs/reliability.md, W15).
    Values above 60999 (unavailable) resolve to -1. A leap-second value (60000..60999) counts into
    the next minute, as the UTC clock it stands for has no such instant.
    """
    values = np.asarray(dsecond, dtype=np.int64)
    latest = reference_ms + ahead_ms
    minute_start = (latest // MINUTE_MS) * MINUTE_MS
    candidate = minute_start + values
    candidate = np.where(candidate > latest, candidate - MINUTE_MS, candidate)
    candidate = np.where(candidate <= latest - MINUTE_MS, candidate + MINUTE_MS, candidate)
    return np.where(values > DSECOND_MAX_VALID, -1, candidate)


def _year_start_ms(epoch_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    years = epoch_ms.astype("datetime64[ms]").astype("datetime64[Y]")
    return years.astype("datetime64[ms]").astype(np.int64)


def resolve_moy(moy: ArrayLike, reference_ms: int) -> NDArray[np.int64]:
    """Epoch ms of the start of MinuteOfTheYear values, in the year nearest to the reference.

    The year comes from the reference clock; around New Year the previous or next year is chosen
    when closer. 527040 (invalid) resolves to -1.
    """
    values = np.asarray(moy, dtype=np.int64)
    ref = np.int64(reference_ms)
    this_year = _year_start_ms(np.array([ref]))[0]
    prev_year = _year_start_ms(np.array([this_year - 1]))[0]
    next_year = _year_start_ms(np.array([this_year + 367 * 86_400_000]))[0]
    starts = np.array([prev_year, this_year, next_year], dtype=np.int64)
    candidates = starts + values[..., None] * MINUTE_MS
    best = np.take_along_axis(
        candidates, np.abs(candidates - ref).argmin(axis=-1)[..., None], axis=-1
    )[..., 0]
    return np.where((values < 0) | (values >= MOY_INVALID), -1, best)


def resolve_moy_dsecond(moy: int, dsecond: int, reference_ms: int) -> int:
    """Epoch ms of a (MinuteOfTheYear, DSecond) pair, e.g. SPAT ``moy`` + ``timeStamp``; -1 if invalid."""
    minute = int(resolve_moy([moy], reference_ms)[0])
    if minute < 0 or dsecond > DSECOND_MAX_VALID:
        return -1
    return minute + dsecond


def resolve_time_mark(mark: ArrayLike, reference_ms: int) -> Floats:
    """Seconds from the reference to absolute TimeMarks (0.1 s within the current or next UTC hour).

    Used for ``utcTiming``; 36000/36001 give NaN. A mark more than half an hour behind the reference
    is taken to lie in the next hour.
    """
    values = np.asarray(mark, dtype=np.float64)
    into_hour_s = (reference_ms % HOUR_MS) / 1000.0
    delta = values * TIME_MARK_S - into_hour_s
    delta = np.where(delta < -1800.0, delta + 3600.0, delta)
    return np.where(values >= TIME_MARK_UNKNOWN - 1, np.nan, delta)


def distance_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Floats:
    """Great-circle distance in km between degree coordinates (haversine, mean Earth radius)."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    out: Any = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return np.asarray(out, dtype=np.float64)


CONFIDENCE_RATIO = 0.005  # Confidence: 0.5 percent units


def confidence_ratio(raw: ArrayLike) -> Floats:
    """A ``Confidence`` (0..200, 0.5 % units) as a ratio in [0, 1]."""
    return _scaled(raw, CONFIDENCE_RATIO)


def priority_level(raw: bytes) -> int:
    """RSIPriority (one octet, top three bits meaningful) as a level 0 (lowest) .. 7 (highest)."""
    return raw[0] >> 5 if raw else 0
