"""SPAT phases: ``IntersectionState``/``Phase``/``PhaseState`` to flat ``SignalPhase`` rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from processors.codecs.v2x import scale
from processors.codecs.v2x.model import SignalPhase
from processors.codecs.v2x.values import bit_names, bit_string_int, epoch_ms_to_datetime, node_id

__all__ = ["STATUS_FLAGS", "extract_phases"]

STATUS_FLAGS = (
    "manualControlIsEnabled", "stopTimeIsActivated", "failureFlash", "preemptIsActive",
    "signalPriorityIsActive", "fixedTimeOperation", "trafficDependentOperation",
    "standbyOperation", "failureMode", "off", "recentMAPmessageUpdate",
    "recentChangeInMAPassignedLanesIDsUsed", "noValidMAPisAvailableAtThisTime",
    "noValidSPATisAvailableAtThisTime",
)
_COUNTING = ("startTime", "minEndTime", "maxEndTime", "likelyEndTime", "nextStartTime", "nextDuration")
_UTC = ("startUTCTime", "minEndUTCTime", "maxEndUTCTime", "likelyEndUTCTime", "nextStartUTCTime",
        "nextEndUTCTime")
_MISSING = scale.TIME_MARK_UNKNOWN


def _opt(value: Any) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number


def extract_phases(
    intersections: list[dict[str, Any]], message_ms: int, reference_ms: int
) -> tuple[SignalPhase, ...]:
    """Flatten SPAT intersections into rows; all times are seconds from the message time.

    ``counting`` marks are already relative; ``utcTiming`` marks are made relative to the
    intersection's time (its own moy/timeStamp, else the message time, else the reference clock),
    and ``next_duration_s`` is then nextEnd - nextStart.
    """
    rows: list[SignalPhase] = []
    for state in intersections:
        status = bit_string_int(state["status"])
        flags = bit_names(state["status"], STATUS_FLAGS)
        own_ms = -1
        if state.get("moy") is not None and state.get("timeStamp") is not None:
            own_ms = scale.resolve_moy_dsecond(state["moy"], state["timeStamp"], reference_ms)
        elif state.get("timeStamp") is not None:
            own_ms = int(scale.resolve_dsecond([state["timeStamp"]], reference_ms)[0])
        base_ms = next((t for t in (own_ms, message_ms, reference_ms) if t >= 0), reference_ms)
        entries = [(p["id"], i, s) for p in state["phases"] for i, s in enumerate(p["phaseStates"])]
        kinds = [s["timing"][0] if "timing" in s else None for _, _, s in entries]
        counting = np.array(
            [[s["timing"][1].get(k, _MISSING) if kind == "counting" else _MISSING for k in _COUNTING]
             for (_, _, s), kind in zip(entries, kinds, strict=True)], dtype=np.float64,
        ).reshape(-1, len(_COUNTING))
        utc = np.array(
            [[s["timing"][1].get(k, _MISSING) if kind == "utcTiming" else _MISSING for k in _UTC]
             for (_, _, s), kind in zip(entries, kinds, strict=True)], dtype=np.float64,
        ).reshape(-1, len(_UTC))
        counting_s = scale.time_mark_s(counting)
        utc_s = scale.resolve_time_mark(utc, base_ms)
        for row, ((phase_id, index, s), kind) in enumerate(zip(entries, kinds, strict=True)):
            if kind == "utcTiming":
                t = utc_s[row]
                times = [t[0], t[1], t[2], t[3], t[4], t[5] - t[4]]
            else:
                times = list(counting_s[row])
            rows.append(SignalPhase(
                intersection_id=node_id(state["intersectionId"]),
                intersection_status=status,
                status_flags=flags,
                phase_id=int(phase_id),
                state_index=index,
                light=s["light"].replace("-", "_"),
                timing="counting" if kind == "counting" else "utc" if kind == "utcTiming" else None,
                start_time_s=_opt(times[0]),
                min_end_time_s=_opt(times[1]),
                max_end_time_s=_opt(times[2]),
                likely_end_time_s=_opt(times[3]),
                next_start_time_s=_opt(times[4]),
                next_duration_s=_opt(times[5]),
                event_time=epoch_ms_to_datetime(base_ms),
            ))
    return tuple(rows)
