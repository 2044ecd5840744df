"""Build C-V2X MessageFrame values (asn1tools' Python form) from the simulated world.

Values use the project's day-one ASN.1 names (``processors/codecs/v2x/asn1``): OCTET STRING as
``bytes``, CHOICE as ``(alternative, value)``, BIT STRING as ``(bytes, bit_count)``, ENUMERATED as
the name. Integer units are the standard's: 1e-7 degree, 0.02 m/s, 0.0125 degree, cm, 0.1 s.
"""

from __future__ import annotations

import math
from typing import Any

from simulators.timebase import dsecond, minute_of_year
from simulators.v2x.signals import SignalPlan
from simulators.v2x.world import (
    LANE_W_M,
    ROAD_HALF_LEN_M,
    STOP_LINE_M,
    Agent,
    Intersection,
    World,
)

__all__ = ["bsm_frame", "map_frame", "rsi_frame", "rsm_frame", "spat_frame"]

FIXED_TIME_STATUS = (b"\x04\x00", 16)  # bit 5 fixedTimeOperation, bit 0 = MSB of byte 0
_SOURCE_NAMES = {"microwave_radar": "microwaveRadar"}
_STRAIGHT = (b"\x80\x00", 12)  # maneuverStraightAllowed


def _lat(deg: float) -> int:
    return max(-900000000, min(900000000, round(deg * 1e7)))


def _lon(deg: float) -> int:
    return max(-1799999999, min(1800000000, round(deg * 1e7)))


def _speed(mps: float) -> int:
    return max(0, min(8190, round(mps / 0.02)))


def _heading(deg: float) -> int:
    return round((deg % 360.0) / 0.0125) % 28800


def _ref_pos(ix: Intersection) -> dict[str, Any]:
    return {"lat": _lat(ix.lat), "long": _lon(ix.lon), "elevation": round(ix.elevation_m * 10)}


def _offset(ix: Intersection, x: float, y: float) -> dict[str, Any]:
    """PositionOffsetLLV relative to the intersection's refPos (18-bit offsets: +/- ~1.3 km)."""
    lat, lon = ix.to_latlon(x, y)
    d_lat = _lat(lat) - _lat(ix.lat)
    d_lon = _lon(lon) - _lon(ix.lon)
    return {"offsetLL": ("position-LL4", {"lon": d_lon, "lat": d_lat})}


def _size(agent: Agent) -> dict[str, Any]:
    return {
        "width": round(agent.width_m * 100),
        "length": round(agent.length_m * 100),
        "height": min(127, round(agent.height_m / 0.05)),
    }


def _accel(agent: Agent) -> dict[str, Any]:
    return {
        "long": max(-2000, min(2000, round(agent.accel * 100))),
        "lat": 0,
        "vert": 0,
        "yaw": 0,
    }


def bsm_frame(world: World, agent: Agent, msg_cnt: int, t_ms: int) -> dict[str, Any]:
    """BSM of one V2X-equipped vehicle, as the RSU relays it."""
    ix = world.intersection
    lat, lon = ix.to_latlon(agent.x, agent.y)
    assert agent.vehicle_id is not None  # noqa: S101 - only equipped vehicles send BSM
    braking = agent.accel < -0.5
    return {
        "bsmFrame": {
            "msgCnt": msg_cnt,
            "id": agent.vehicle_id,
            "secMark": dsecond(t_ms),
            "pos": {"lat": _lat(lat), "long": _lon(lon), "elevation": round(ix.elevation_m * 10)},
            "posAccuracy": {"semiMajor": 30, "semiMinor": 20, "orientation": 0},
            "transmission": "forwardGears",
            "speed": _speed(agent.speed),
            "heading": _heading(agent.heading),
            "accelSet": _accel(agent),
            "brakes": {"brakePadel": "on" if braking else "off"},
            "size": _size(agent),
            "vehicleClass": {"classification": 41 if agent.length_m > 10 else 10},
        }
    }


def rsm_frame(world: World, rsu_id: bytes, msg_cnt: int, t_ms: int) -> dict[str, Any] | None:
    """RSM of the participants the RSU detects (at most 16); None when nobody is in range."""
    ix = world.intersection
    participants = []
    for agent in world.detected(16):
        item: dict[str, Any] = {
            "ptcType": agent.ptc_type,
            "ptcId": agent.ptc_id,
            "source": _SOURCE_NAMES.get(agent.source, agent.source),
            "secMark": dsecond(t_ms),
            "pos": _offset(ix, agent.x, agent.y),
            "posConfidence": {"pos": "a1m" if agent.source == "v2x" else "a2m"},
            "speed": _speed(agent.speed),
            "heading": _heading(agent.heading),
            "size": _size(agent),
        }
        if agent.vehicle_id is not None:
            item["id"] = agent.vehicle_id  # equals the id in the vehicle's own BSM
        if agent.ptc_type == "motor":
            item["accelSet"] = _accel(agent)
        participants.append(item)
    if not participants:
        return None
    return {
        "rsmFrame": {
            "msgCnt": msg_cnt,
            "id": rsu_id,
            "refPos": _ref_pos(ix),
            "participants": participants,
        }
    }


def spat_frame(ix: Intersection, plan: SignalPlan, msg_cnt: int, t_ms: int) -> dict[str, Any]:
    """SPAT of one intersection: every phase with its lights and counting-down timing."""
    t_s = t_ms / 1000
    phases = []
    for phase in plan.phases:
        timing = plan.timing(phase.phase_id, t_s)
        phases.append({"id": phase.phase_id, "phaseStates": [dict(s) for s in timing.states]})
    return {
        "spatFrame": {
            "msgCnt": msg_cnt,
            "moy": minute_of_year(t_ms),
            "timeStamp": dsecond(t_ms),
            "intersections": [
                {
                    "intersectionId": {"region": ix.region, "id": ix.node_id},
                    "status": FIXED_TIME_STATUS,
                    "moy": minute_of_year(t_ms),
                    "timeStamp": dsecond(t_ms),
                    "phases": phases,
                }
            ],
        }
    }


def map_frame(ix: Intersection, msg_cnt: int, t_ms: int) -> dict[str, Any]:
    """MAP of one intersection: four inbound links, their lanes, speed limit and phase links."""
    links = []
    arms = ("north", "east", "south", "west")
    for arm_no, arm in enumerate(arms, start=1):
        lanes = [a for a in ix.approaches if a.name == arm]
        phase = lanes[0].phase_id
        through = arms[(arm_no + 1) % 4]
        downstream = {
            "region": ix.region,
            "id": (ix.node_id * 10 + arms.index(through) + 1) % 65536,
        }
        lane_values = []
        for lane in lanes:
            start = lane.point(0.0)
            stop = lane.point(ROAD_HALF_LEN_M - STOP_LINE_M)
            lane_values.append(
                {
                    "laneID": arm_no * 10 + lane.lane_no,
                    "laneWidth": round(LANE_W_M * 100),
                    "maneuvers": _STRAIGHT,
                    "connectsTo": [{"remoteIntersection": downstream, "phaseId": phase}],
                    "points": [
                        {"posOffset": _offset(ix, *start)},
                        {"posOffset": _offset(ix, *stop)},
                    ],
                }
            )
        centre_in = lanes[0].point(0.0)
        centre_stop = lanes[0].point(ROAD_HALF_LEN_M - STOP_LINE_M)
        links.append(
            {
                "name": f"{ix.name} {arm} approach"[:63],
                "upstreamNodeId": {"region": ix.region, "id": (ix.node_id * 10 + arm_no) % 65536},
                "speedLimits": [{"type": "vehicleMaxSpeed", "speed": 834}],
                "linkWidth": round(LANE_W_M * 100 * len(lanes)),
                "points": [
                    {"posOffset": _offset(ix, *centre_in)},
                    {"posOffset": _offset(ix, *centre_stop)},
                ],
                "movements": [{"remoteIntersection": downstream, "phaseId": phase}],
                "lanes": lane_values,
            }
        )
    return {
        "mapFrame": {
            "msgCnt": msg_cnt,
            "timeStamp": minute_of_year(t_ms),
            "nodes": [
                {
                    "name": ix.name[:63],
                    "id": {"region": ix.region, "id": ix.node_id},
                    "refPos": _ref_pos(ix),
                    "inLinks": links,
                }
            ],
        }
    }


# GB/T 29100 event codes used by the simulator (adverse weather, congestion, construction)
ROAD_EVENTS: tuple[tuple[int, str, str], ...] = (
    (707, "detection", "congestion on approach"),
    (301, "meteorological", "heavy rain"),
    (304, "meteorological", "fog, reduced visibility"),
    (401, "government", "road works"),
    (902, "police", "broken-down vehicle"),
)
# GB 5768.2 sign types named in the ASN.1 comments
ROAD_SIGNS: tuple[tuple[int, str], ...] = ((38, "under construction"), (17, "slippery road"))


def rsi_frame(
    ix: Intersection,
    rsu_id: bytes,
    msg_cnt: int,
    t_ms: int,
    *,
    event_index: int,
    queue_m: float,
) -> dict[str, Any]:
    """RSI with one road event (congestion while a queue is long, else a rotating event) and a sign."""
    code, source, text = ROAD_EVENTS[0] if queue_m > 40 else ROAD_EVENTS[1 + event_index % 4]
    moy = minute_of_year(t_ms)
    angle = (event_index * 97) % 360
    ex, ey = 60 * math.sin(math.radians(angle)), 60 * math.cos(math.radians(angle))
    sign_type, sign_text = ROAD_SIGNS[event_index % len(ROAD_SIGNS)]
    return {
        "rsiFrame": {
            "msgCnt": msg_cnt,
            "moy": moy,
            "id": rsu_id,
            "refPos": _ref_pos(ix),
            "rtes": [
                {
                    "rteId": event_index % 256,
                    "eventType": code,
                    "eventSource": source,
                    "eventPos": _offset(ix, ex, ey),
                    "eventRadius": 500,
                    "description": ("textString", text),
                    "timeDetails": {"startTime": moy, "endTime": min(527039, moy + 30)},
                    "priority": b"\xa0",
                }
            ],
            "rtss": [
                {
                    "rtsId": event_index % 256,
                    "signType": sign_type,
                    "signPos": _offset(ix, -ex, -ey),
                    "description": ("textString", sign_text),
                    "priority": b"\x60",
                }
            ],
        }
    }
