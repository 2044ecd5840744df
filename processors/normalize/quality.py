"""Quality rules (docs/governance.md §4): timeliness, consistency and plausibility; flag or refuse.

Rules flag and never alter values. A refusal is a RecordRejected carrying the reason code; a flag is
a short string stored in ``DatasetRecord.quality``. Timeliness is computed for a whole batch at once
with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from contracts.dead_letter import ReasonCode
from processors.normalize.contract import Candidate, RecordRejected

__all__ = [
    "QualityConfig",
    "check_identity",
    "distance_m",
    "timeliness",
]

_NS = 1_000_000_000
_EARTH_RADIUS_M = 6_371_008.8


class QualityConfig(BaseModel):
    """Quality thresholds (seconds, metres) and the policy for data that is too old."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_future_skew_s: float = Field(default=5.0, ge=0, description="device clock ahead of receive")
    late_after_s: float = Field(default=60.0, gt=0, description="older than this: flag 'late'")
    max_age_s: float = Field(default=7 * 86400.0, gt=0, description="older than this: too old")
    too_old: Literal["flag", "reject"] = "flag"
    out_of_range: Literal["flag", "reject"] = "reject"


def timeliness(
    observed_ns: Sequence[int], received_ns: Sequence[int], config: QualityConfig
) -> list[tuple[ReasonCode | None, str]]:
    """Per row: a refusal reason (or None) and the timeliness flag, computed over the whole batch.

    Flags: ``clock_skew`` (ahead, within tolerance), ``latency_ok``, ``late``, ``too_old``.
    """
    obs = np.asarray(observed_ns, dtype=np.int64)
    rcv = np.asarray(received_ns, dtype=np.int64)
    lag_s = (rcv - obs).astype(np.float64) / _NS
    future = lag_s < -config.max_future_skew_s
    ahead = (lag_s < 0) & ~future
    old = lag_s > config.max_age_s
    late = (lag_s > config.late_after_s) & ~old
    out: list[tuple[ReasonCode | None, str]] = []
    for i in range(len(obs)):
        if future[i]:
            out.append((ReasonCode.FUTURE_TIMESTAMP, "clock_skew"))
        elif old[i]:
            reject = config.too_old == "reject"
            out.append((ReasonCode.TOO_OLD if reject else None, "too_old"))
        elif late[i]:
            out.append((None, "late"))
        elif ahead[i]:
            out.append((None, "clock_skew"))
        else:
            out.append((None, "latency_ok"))
    return out


def check_identity(candidate: Candidate, topic_device_id: str) -> None:
    """Refuse a record whose payload names another sender than its MQTT topic (spoofing signal)."""
    claimed = candidate.payload_device_id
    if claimed is not None and claimed.strip().lower() != topic_device_id.strip().lower():
        detail = f"payload names device {claimed!r} but the topic names {topic_device_id!r}"
        raise RecordRejected(ReasonCode.IDENTITY_MISMATCH, detail)


def distance_m(
    lat: npt.ArrayLike, lon: npt.ArrayLike, ref_lat: float, ref_lon: float
) -> npt.NDArray[np.float64]:
    """Great-circle distances (haversine) from a reference point, vectorized over positions."""
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    rla, rlo = np.radians(ref_lat), np.radians(ref_lon)
    h = np.sin((la - rla) / 2) ** 2 + np.cos(la) * np.cos(rla) * np.sin((lo - rlo) / 2) ** 2
    result: npt.NDArray[np.float64] = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    return result
