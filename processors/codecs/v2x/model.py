"""Typed output of the C-V2X codec: one ``V2xMessage`` per frame, in engineering units.

Raw integers stay available in ``V2xMessage.raw`` (the asn1tools value); typed lists carry the
scaled values the normalizer maps to the ``v2x_*`` datasets (see docs/codecs-v2x.md). ``None``
means absent or marked unavailable by the sender.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from processors.codecs.v2x.framing import VendorHeader

__all__ = [
    "Intersection",
    "Lane",
    "Link",
    "MsgType",
    "Participant",
    "PayloadEncoding",
    "RoadEvent",
    "SignalPhase",
    "V2xMessage",
]

MsgType = Literal["bsm", "map", "rsm", "spat", "rsi"]
PayloadEncoding = Literal["uper", "jer", "csae_json"]
_FROZEN = ConfigDict(frozen=True)


class Participant(BaseModel):
    """A traffic participant: an RSM ``ParticipantData`` or the sender of a BSM."""

    model_config = _FROZEN

    ptc_type: str  # unknown|motor|non_motor|pedestrian|rsu (BSM: motor)
    ptc_id: int  # RSM ptcId; 0 for a BSM
    source: str  # unknown|selfinfo|v2x|video|microwave_radar|loop|lidar|integrated
    vehicle_id_hex: str | None = None  # 8-byte temporary vehicle id (personal data)
    sec_mark: int
    event_time: datetime | None = None
    lat: float | None
    lon: float | None
    elevation: float | None = None  # m
    position_is_absolute: bool  # position-LatLon rather than an offset from refPos
    speed: float | None  # m/s
    heading: float | None  # degrees clockwise from north, [0, 360)
    length: float | None = None  # m
    width: float | None = None  # m
    height: float | None = None  # m
    vehicle_class: int | None = None  # BasicVehicleClass code
    distance_from_ref_km: float | None = None


class SignalPhase(BaseModel):
    """One ``PhaseState`` of a SPAT phase; times are seconds from the message time."""

    model_config = _FROZEN

    intersection_id: str  # "<region>-<id>", or "<id>" without a region
    intersection_status: int  # IntersectionStatusObject as a 16-bit integer, bit 0 = MSB
    status_flags: tuple[str, ...]
    phase_id: int
    state_index: int  # 0 = current state, then the states that follow
    light: str  # unavailable|dark|flashing_red|red|flashing_green|permissive_green|...
    timing: Literal["counting", "utc"] | None
    start_time_s: float | None = None
    min_end_time_s: float | None = None
    max_end_time_s: float | None = None
    likely_end_time_s: float | None = None
    next_start_time_s: float | None = None
    next_duration_s: float | None = None
    event_time: datetime | None = None


class RoadEvent(BaseModel):
    """An RSI road traffic event (``RTEData``) or sign (``RTSData``)."""

    model_config = _FROZEN

    kind: Literal["event", "sign"]
    local_id: int  # rteId / rtsId
    event_type: int  # eventType (GB/T 29100) or signType (GB 5768.2)
    event_source: str | None = None  # events only: unknown|police|government|...
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    priority: int | None = None  # 0 (lowest) .. 7 (highest), from the top three bits
    description: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    confidence: float | None = None  # 0..1


class Lane(BaseModel):
    """A MAP lane."""

    model_config = _FROZEN

    lane_id: int
    width_m: float | None = None
    maneuvers: tuple[str, ...] = ()
    phase_ids: tuple[int, ...] = ()


class Link(BaseModel):
    """A MAP link entering a node."""

    model_config = _FROZEN

    upstream_node_id: str
    name: str | None = None
    width_m: float | None = None
    speed_limits_mps: tuple[float, ...] = ()
    phase_ids: tuple[int, ...] = ()
    lanes: tuple[Lane, ...] = ()


class Intersection(BaseModel):
    """A MAP node (intersection or road end point)."""

    model_config = _FROZEN

    intersection_id: str
    node_name: str | None = None
    lat: float | None
    lon: float | None
    elevation: float | None = None
    link_count: int
    lane_count: int
    links: tuple[Link, ...] = ()


class V2xMessage(BaseModel):
    """One decoded MessageFrame; immutable. ``raw`` is the asn1tools value (bytes, tuples) as decoded."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    msg_type: MsgType
    edition: str
    encoding: PayloadEncoding
    framing: VendorHeader | None = None
    msg_cnt: int
    sender_id_hex: str | None = None  # RSU id (RSM/RSI) or vehicle id (BSM), 8 octets
    reference_time: datetime  # clock used to resolve moy/secMark: header time, else receive time
    event_time: datetime | None = None
    moy: int | None = None
    sec_mark: int | None = None  # secMark/timeStamp (DSecond)
    ref_lat: float | None = None
    ref_lon: float | None = None
    ref_elevation: float | None = None
    participants: tuple[Participant, ...] = ()
    phases: tuple[SignalPhase, ...] = ()
    road_events: tuple[RoadEvent, ...] = ()
    intersections: tuple[Intersection, ...] = ()
    warnings: tuple[str, ...] = ()  # plausibility findings; decoding still succeeded
    raw: dict[str, Any] = Field(repr=False)
