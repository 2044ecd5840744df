"""From a decoded MessageFrame value (asn1tools form) to the typed ``V2xMessage``.

Works in raw CSAE integers, collects them per message into arrays and scales them once through
``scale`` (the only place that knows units). Plausibility findings become ``warnings``; they do not
fail the decode.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from processors.codecs.v2x import scale
from processors.codecs.v2x.framing import VendorHeader
from processors.codecs.v2x.model import (
    Intersection,
    Lane,
    Link,
    Participant,
    PayloadEncoding,
    RoadEvent,
    V2xMessage,
)
from processors.codecs.v2x.schema import FRAME_ALTERNATIVES
from processors.codecs.v2x.spat import extract_phases
from processors.codecs.v2x.values import bit_names, epoch_ms_to_datetime, node_id

__all__ = ["PLAUSIBLE_RANGE_KM", "build_message"]

# Roadside sensors see a few hundred metres; anything beyond this from refPos is suspicious.
PLAUSIBLE_RANGE_KM = 10.0

_VERT_BITS = {"offset1": 7, "offset2": 8, "offset3": 9, "offset4": 10, "offset5": 11, "offset6": 12}


def _f(value: Any) -> float | None:
    """A numpy scalar as float, NaN as None."""
    number = float(value)
    return None if np.isnan(number) else number


def _column(values: Any) -> list[float | None]:
    """A scaled numpy array as a list of floats, NaN as None (one pass, no per-item numpy calls)."""
    return [None if math.isnan(v) else v for v in np.asarray(values, dtype=np.float64).tolist()]


@functools.lru_cache(maxsize=256)  # enumeration names (a fixed set), converted per participant
def _snake(name: str) -> str:
    out = name.replace("-", "_")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in out)


def _position(llv: dict[str, Any], ref: dict[str, Any]) -> tuple[int, int, bool, float | None]:
    """Absolute raw lat/lon of a PositionOffsetLLV, whether it was absolute, and elevation in m."""
    kind, point = llv["offsetLL"]
    if kind == "position-LatLon":
        lat, lon, absolute = point["lat"], point["lon"], True
    else:
        lat, lon, absolute = ref["lat"] + point["lat"], ref["long"] + point["lon"], False
    elevation: float | None = None
    if "offsetV" in llv:
        vkind, vraw = llv["offsetV"]
        if vkind == "elevation":
            elevation = _f(scale.elevation_m([vraw])[0])
        elif ref.get("elevation") is not None:
            offset = _f(scale.vert_offset_m([vraw], [_VERT_BITS[vkind]])[0])
            base = _f(scale.elevation_m([ref["elevation"]])[0])
            if offset is not None and base is not None:
                elevation = base + offset
    return lat, lon, absolute, elevation


def _participants(
    records: list[dict[str, Any]], ref: dict[str, Any], reference_ms: int, *, from_bsm: bool
) -> tuple[tuple[Participant, ...], list[str]]:
    if not records:
        return (), []
    positions = [_position(r["pos"], ref) if not from_bsm else
                 (r["pos"]["lat"], r["pos"]["long"], True, None) for r in records]
    lat = scale.lat_deg([p[0] for p in positions])
    lon = scale.lon_deg([p[1] for p in positions])
    speed = scale.speed_mps([r["speed"] for r in records])
    heading = scale.heading_deg([r["heading"] for r in records])
    width = scale.size_cm_m([r["size"]["width"] for r in records])
    length = scale.size_cm_m([r["size"]["length"] for r in records])
    height = scale.vehicle_height_m([r["size"].get("height", 0) for r in records])
    times = scale.resolve_dsecond([r["secMark"] for r in records], reference_ms)
    ref_lat, ref_lon = scale.lat_deg([ref["lat"]]), scale.lon_deg([ref["long"]])
    distance = scale.distance_km(ref_lat, ref_lon, lat, lon)
    if from_bsm:
        elevations = _column(scale.elevation_m(
            [r["pos"].get("elevation", scale.ELEVATION_UNKNOWN) for r in records]))
    else:
        elevations = [p[3] for p in positions]
    cols = zip(_column(lat), _column(lon), _column(speed), _column(heading), _column(length),
               _column(width), _column(height), _column(distance), times.tolist(), elevations,
               strict=True)
    out: list[Participant] = []
    warnings: list[str] = []
    for r, pos, (la, lo, sp, hd, ln, wd, ht, dist, t_ms, elev) in zip(records, positions, cols,
                                                                       strict=True):
        vehicle_class = r.get("vehicleClass", {}).get("classification")
        ptc_id = 0 if from_bsm else int(r["ptcId"])
        # model_construct: every field is typed by the lines above (floats from the numpy columns,
        # ints, str, datetime), so pydantic's per-participant validation would only re-check it
        out.append(Participant.model_construct(
            ptc_type="motor" if from_bsm else _snake(r["ptcType"]),
            ptc_id=ptc_id,
            source="selfinfo" if from_bsm else _snake(r["source"]),
            vehicle_id_hex=r["id"].hex() if "id" in r else None,
            sec_mark=int(r["secMark"]),
            event_time=epoch_ms_to_datetime(int(t_ms)),
            lat=la,
            lon=lo,
            elevation=elev,
            position_is_absolute=pos[2],
            speed=sp,
            heading=hd,
            length=ln,
            width=wd,
            height=ht,
            vehicle_class=int(vehicle_class) if vehicle_class is not None else None,
            distance_from_ref_km=None if from_bsm else dist,
        ))
        if not from_bsm and dist is not None and dist > PLAUSIBLE_RANGE_KM:
            warnings.append(
                f"participant {ptc_id} is {dist:.1f} km from refPos "
                f"(more than {PLAUSIBLE_RANGE_KM:g} km)"
            )
    return tuple(out), warnings


def _description(value: tuple[str, Any] | None) -> str | None:
    if value is None:
        return None
    kind, text = value
    if kind == "textGB2312":
        return bytes(text).decode("gbk", "replace")
    return str(text)


def _road_events(rsi: dict[str, Any], reference_ms: int) -> tuple[RoadEvent, ...]:
    ref = rsi["refPos"]
    items = [("event", r) for r in rsi.get("rtes", [])] + [("sign", r) for r in rsi.get("rtss", [])]
    out: list[RoadEvent] = []
    for kind, item in items:
        pos = item.get("eventPos") if kind == "event" else item.get("signPos")
        lat = lon = None
        if pos is not None:
            raw_lat, raw_lon, _, _ = _position(pos, ref)
            lat, lon = _f(scale.lat_deg([raw_lat])[0]), _f(scale.lon_deg([raw_lon])[0])
        details = item.get("timeDetails", {})
        starts = scale.resolve_moy([details.get("startTime", scale.MOY_INVALID),
                                    details.get("endTime", scale.MOY_INVALID)], reference_ms)
        radius = item.get("eventRadius")
        confidence = item.get("eventConfidence")
        out.append(RoadEvent(
            kind=kind,
            local_id=int(item["rteId"] if kind == "event" else item["rtsId"]),
            event_type=int(item["eventType"] if kind == "event" else item["signType"]),
            event_source=_snake(item["eventSource"]) if kind == "event" else None,
            lat=lat,
            lon=lon,
            radius_m=_f(scale.radius_m([radius])[0]) if radius is not None else None,
            priority=scale.priority_level(item["priority"]) if "priority" in item else None,
            description=_description(item.get("description")),
            start_time=epoch_ms_to_datetime(int(starts[0])),
            end_time=epoch_ms_to_datetime(int(starts[1])),
            confidence=_f(scale.confidence_ratio([confidence])[0]) if confidence is not None else None,
        ))
    return tuple(out)


_MANEUVERS = (
    "straight", "left", "right", "u_turn", "left_turn_on_red", "right_turn_on_red", "lane_change",
    "no_stopping", "yield_always", "go_with_halt", "caution", "reserved1",
)


def _intersections(map_data: dict[str, Any]) -> tuple[Intersection, ...]:
    out: list[Intersection] = []
    for node in map_data["nodes"]:
        links: list[Link] = []
        for link in node.get("inLinks", []):
            lanes = tuple(
                Lane(
                    lane_id=int(lane["laneID"]),
                    width_m=_f(scale.lane_width_m([lane["laneWidth"]])[0]) if "laneWidth" in lane else None,
                    maneuvers=bit_names(lane["maneuvers"], _MANEUVERS) if "maneuvers" in lane else (),
                    phase_ids=tuple(int(c["phaseId"]) for c in lane.get("connectsTo", []) if "phaseId" in c),
                )
                for lane in link["lanes"]
            )
            limits = scale.speed_mps([s["speed"] for s in link.get("speedLimits", [])])
            links.append(Link(
                upstream_node_id=node_id(link["upstreamNodeId"]),
                name=link.get("name"),
                width_m=_f(scale.lane_width_m([link["linkWidth"]])[0]) if "linkWidth" in link else None,
                speed_limits_mps=tuple(v for v in (_f(x) for x in limits) if v is not None),
                phase_ids=tuple(int(m["phaseId"]) for m in link.get("movements", []) if "phaseId" in m),
                lanes=lanes,
            ))
        ref = node["refPos"]
        out.append(Intersection(
            intersection_id=node_id(node["id"]),
            node_name=node.get("name"),
            lat=_f(scale.lat_deg([ref["lat"]])[0]),
            lon=_f(scale.lon_deg([ref["long"]])[0]),
            elevation=_f(scale.elevation_m([ref["elevation"]])[0]) if "elevation" in ref else None,
            link_count=len(links),
            lane_count=sum(len(link.lanes) for link in links),
            links=tuple(links),
        ))
    return tuple(out)


def build_message(
    frame: dict[str, Any],
    *,
    edition: str,
    encoding: PayloadEncoding,
    framing: VendorHeader | None,
    received_ms: int,
) -> V2xMessage:
    """Typed message of a decoded frame; times resolve against the header time, else ``received_ms``."""
    ((name, body),) = frame.items()
    msg_type = FRAME_ALTERNATIVES[name]
    reference_ms = framing.epoch_ms if framing is not None else received_ms
    fields: dict[str, Any] = {}
    warnings: list[str] = []
    event_ms = -1
    ref = body.get("refPos")
    if msg_type == "bsm":
        ref = body["pos"]
        participants, _ = _participants([body], ref, reference_ms, from_bsm=True)
        fields.update(participants=participants, sec_mark=body["secMark"])
        fields["sender_id_hex"] = body["id"].hex()
        event_ms = int(scale.resolve_dsecond([body["secMark"]], reference_ms)[0])
    elif msg_type == "rsm":
        participants, warnings = _participants(body["participants"], ref, reference_ms, from_bsm=False)
        fields.update(participants=participants, sender_id_hex=body["id"].hex())
        times = [int(t) for t in scale.resolve_dsecond([p["secMark"] for p in body["participants"]],
                                                       reference_ms) if t >= 0]
        event_ms = max(times, default=-1)
    elif msg_type == "spat":
        moy, stamp = body.get("moy"), body.get("timeStamp")
        fields.update(moy=moy, sec_mark=stamp)
        if moy is not None and stamp is not None:
            event_ms = scale.resolve_moy_dsecond(moy, stamp, reference_ms)
        elif stamp is not None:
            event_ms = int(scale.resolve_dsecond([stamp], reference_ms)[0])
        elif moy is not None:
            event_ms = int(scale.resolve_moy([moy], reference_ms)[0])
        fields["phases"] = extract_phases(body["intersections"], event_ms, reference_ms)
    elif msg_type == "map":
        fields.update(moy=body.get("timeStamp"), intersections=_intersections(body))
        if body.get("timeStamp") is not None:
            event_ms = int(scale.resolve_moy([body["timeStamp"]], reference_ms)[0])
    else:  # rsi
        fields.update(moy=body.get("moy"), sender_id_hex=body["id"].hex())
        fields["road_events"] = _road_events(body, reference_ms)
        if body.get("moy") is not None:
            event_ms = int(scale.resolve_moy([body["moy"]], reference_ms)[0])
    if ref is not None:
        fields.update(
            ref_lat=_f(scale.lat_deg([ref["lat"]])[0]),
            ref_lon=_f(scale.lon_deg([ref["long"]])[0]),
            ref_elevation=_f(scale.elevation_m([ref["elevation"]])[0]) if "elevation" in ref else None,
        )
    reference_time = epoch_ms_to_datetime(reference_ms) or datetime.fromtimestamp(0, tz=UTC)
    return V2xMessage(
        msg_type=msg_type,
        edition=edition,
        encoding=encoding,
        framing=framing,
        msg_cnt=int(body["msgCnt"]),
        reference_time=reference_time,
        event_time=epoch_ms_to_datetime(event_ms),
        warnings=tuple(warnings),
        raw=frame,
        **fields,
    )
