"""Hand-built MessageFrame values of every day-one message type, in asn1tools form."""

from __future__ import annotations

from typing import Any

REF = {"lat": 438812345, "long": 1253154321, "elevation": 2150}


def participant(i: int) -> dict[str, Any]:
    """An RSM participant offset from REF."""
    return {
        "ptcType": "motor",
        "ptcId": i + 1,
        "source": "lidar",
        "id": bytes([i] * 8),
        "secMark": 40300 + i,
        "pos": {"offsetLL": ("position-LL3", {"lon": 100 * i, "lat": -50 * i}),
                "offsetV": ("offset2", 5)},
        "posConfidence": {"pos": "a1m", "elevation": "elev-001-00"},
        "transmission": "forwardGears",
        "speed": 625,
        "heading": 7200,
        "accelSet": {"long": 10, "lat": -5, "vert": 0, "yaw": 100},
        "size": {"width": 185, "length": 470, "height": 30},
        "vehicleClass": {"classification": 10, "fuelType": 1},
    }


def rsm(count: int = 3) -> dict[str, Any]:
    """RSM with ``count`` participants (at most 16)."""
    return {"rsmFrame": {"msgCnt": 7, "id": b"RSU00001", "refPos": dict(REF),
                         "participants": [participant(i) for i in range(count)]}}


def bsm() -> dict[str, Any]:
    """BSM with brakes, safety and emergency extensions."""
    return {"bsmFrame": {
        "msgCnt": 127,
        "id": bytes.fromhex("0102030405060708"),
        "secMark": 59999,
        "timeConfidence": "time-000-100",
        "pos": {"lat": 438813002, "long": 1253155870, "elevation": 2160},
        "posAccuracy": {"semiMajor": 20, "semiMinor": 10, "orientation": 100},
        "transmission": "forwardGears",
        "speed": 8191,
        "heading": 28799,
        "angle": -3,
        "motionCfd": {"speedCfd": "prec1ms"},
        "accelSet": {"long": 2001, "lat": 0, "vert": -127, "yaw": 0},
        "brakes": {"brakePadel": "on", "wheelBrakes": (b"\x80", 5), "abs": "engaged"},
        "size": {"width": 180, "length": 450},
        "vehicleClass": {"classification": 11},
        "safetyExt": {
            "events": (b"\x80\x00", 13),
            "pathHistory": {"crumbData": [
                {"llvOffset": {"offsetLL": ("position-LL1", {"lon": -20, "lat": 30})},
                 "timeOffset": 100},
                {"llvOffset": {"offsetLL": ("position-LL2", {"lon": -40, "lat": 60})},
                 "timeOffset": 200, "heading": 60},
            ]},
            "lights": (b"\x20\x00", 9),
        },
        "emergencyExt": {"responseType": "emergency", "sirenUse": "inUse"},
    }}


def spat() -> dict[str, Any]:
    """SPAT with one counting and one utcTiming phase."""
    return {"spatFrame": {
        "msgCnt": 3,
        "moy": 458335,
        "timeStamp": 5238,
        "name": "test crossing",
        "intersections": [{
            "intersectionId": {"region": 1, "id": 42},
            "status": (b"\x04\x00", 16),
            "phases": [
                {"id": 1, "phaseStates": [
                    {"light": "protected-green",
                     "timing": ("counting", {"startTime": 0, "likelyEndTime": 150,
                                             "nextStartTime": 450, "nextDuration": 150})},
                    {"light": "yellow",
                     "timing": ("counting", {"startTime": 150, "likelyEndTime": 180})},
                ]},
                {"id": 2, "phaseStates": [
                    {"light": "red",
                     "timing": ("utcTiming", {"startUTCTime": 33000, "likelyEndUTCTime": 33100,
                                              "nextStartUTCTime": 33400,
                                              "nextEndUTCTime": 33600})},
                    {"light": "dark"},
                ]},
            ],
        }],
    }}


def map_data() -> dict[str, Any]:
    """MAP with one node, one link and two lanes."""
    point = {"posOffset": {"offsetLL": ("position-LL3", {"lon": 1000, "lat": 2000})}}
    return {"mapFrame": {
        "msgCnt": 1,
        "timeStamp": 458335,
        "nodes": [{
            "name": "Renmin-Jiefang",
            "id": {"region": 1, "id": 42},
            "refPos": {"lat": 438812345, "long": 1253154321},
            "inLinks": [{
                "upstreamNodeId": {"region": 1, "id": 41},
                "speedLimits": [{"type": "vehicleMaxSpeed", "speed": 834}],
                "linkWidth": 1050,
                "points": [point, point],
                "movements": [{"remoteIntersection": {"id": 43}, "phaseId": 1}],
                "lanes": [
                    {"laneID": 1, "laneWidth": 350, "maneuvers": (b"\x80\x00", 12),
                     "laneAttributes": {"laneType": ("vehicle", (b"\x00", 8))},
                     "connectsTo": [{"remoteIntersection": {"id": 43},
                                     "connectingLane": {"lane": 2}, "phaseId": 1}]},
                    {"laneID": 2, "laneWidth": 350, "maneuvers": (b"\x40\x00", 12)},
                ],
            }],
        }],
    }}


def rsi() -> dict[str, Any]:
    """RSI with one event (GB2312 description) and one sign."""
    return {"rsiFrame": {
        "msgCnt": 9,
        "moy": 458335,
        "id": b"RSU00001",
        "refPos": dict(REF),
        "rtes": [{
            "rteId": 1,
            "eventType": 707,
            "eventSource": "detection",
            "eventPos": {"offsetLL": ("position-LL4", {"lon": 5000, "lat": -3000})},
            "eventRadius": 500,
            "description": ("textGB2312", "拥堵".encode("gb2312")),
            "timeDetails": {"startTime": 458330, "endTime": 458400},
            "priority": b"\xe0",
            "referencePaths": [{"activePath": [
                {"offsetLL": ("position-LL1", {"lon": 1, "lat": 2})}], "pathRadius": 100}],
            "referenceLinks": [{"upstreamNodeId": {"id": 41}, "downstreamNodeId": {"id": 42},
                                "referenceLanes": (b"\x60\x00", 16)}],
            "eventConfidence": 180,
        }],
        "rtss": [{"rtsId": 2, "signType": 38, "description": ("textString", "road works")}],
    }}


ALL = {"bsm": bsm, "map": map_data, "rsm": rsm, "spat": spat, "rsi": rsi}
