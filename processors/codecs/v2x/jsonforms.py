"""JSON renderings of C-V2X messages, converted to the same MessageFrame value as UPER.

Accepted shapes (docs/codecs-v2x.md, JSON renderings):

* **JER** (X.697): ``{"rsmFrame": {...}}`` with the standard's field names and integer units;
  ENUMERATED as names, OCTET STRING and fixed-size BIT STRING as hex, CHOICE as ``{alt: value}``.
* **CSAE JSON** as forwarded by RSU platforms (OpenV2X "standard" RSM): ``{"id", "content":
  {"rsms": [{"refPos": {lat, lon, ele}, "participants": [...]}]}}`` with absolute 1e-7 degree
  positions and ``lon``/``ele`` where the ASN.1 says ``long``/``elevation``.
* A bare message body with the standard's names, e.g. ``{"msgCnt": .., "participants": [..]}``,
  when the message type is known from the MQTT topic (``V2X/RSU/{id}/{MSG}/UP``).

Oversized or deeply nested documents are refused before any conversion. Each rendering maps
straight to the MessageFrame value and is checked against the ASN.1 constraints (``constraints``),
never encoded to UPER and decoded again.
"""

from __future__ import annotations

from typing import Any

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.codecs.strictjson import StrictJsonError, loads_strict
from processors.codecs.v2x.constraints import check_frame
from processors.codecs.v2x.schema import FRAME_ALTERNATIVES, FrameValue, frame_from_jer

__all__ = ["TOPIC_MESSAGE_TYPES", "load_json", "message_type_from_topic", "to_frames"]

TOPIC_MESSAGE_TYPES = {"BSM": "bsmFrame", "MAP": "mapFrame", "RSM": "rsmFrame", "SPAT": "spatFrame",
                       "RSI": "rsiFrame"}
_PTC_TYPES = ("unknown", "motor", "non-motor", "pedestrian", "rsu")
_SOURCES = ("unknown", "selfinfo", "v2x", "video", "microwaveRadar", "loop", "lidar", "integrated")
_MAX_PARTICIPANTS = 16  # ParticipantList SIZE(1..16)


def _depth_ok(document: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def load_json(payload: bytes, *, max_bytes: int, max_depth: int) -> Any:
    """Parse a JSON payload within size and nesting limits; CodecError otherwise."""
    if len(payload) > max_bytes:
        msg = f"JSON payload of {len(payload)} bytes exceeds {max_bytes}"
        raise CodecError(ReasonCode.PAYLOAD_TOO_LARGE, msg)
    try:
        document = loads_strict(payload)
    except StrictJsonError as exc:
        raise CodecError(exc.reason, str(exc)) from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        msg = f"not valid JSON: {type(exc).__name__}: {str(exc)[:200]}"
        raise CodecError(ReasonCode.DECODE_ERROR, msg) from exc
    if not _depth_ok(document, max_depth):
        msg = f"JSON nesting deeper than {max_depth}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg)
    return document


def message_type_from_topic(topic: str) -> str | None:
    """MessageFrame alternative named by an OpenV2X-style topic ``V2X/RSU/{id}/{MSG}/UP[/driver]``."""
    parts = topic.split("/")
    for part in parts[3:4]:
        if part.upper() in TOPIC_MESSAGE_TYPES:
            return TOPIC_MESSAGE_TYPES[part.upper()]
    return None


def _enum_name(value: Any, names: tuple[str, ...], field: str) -> str:
    if isinstance(value, bool):
        pass
    elif isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    elif isinstance(value, str):
        # platforms differ in spelling: "non-motor", "non_motor", "NON_MOTOR", "microwave_radar"
        wanted = value.replace("_", "").replace("-", "").lower()
        for name in names:
            if name.replace("-", "").lower() == wanted:
                return name
    msg = f"unknown {field} {value!r}"
    raise CodecError(ReasonCode.SCHEMA_INVALID, msg)


def _rsu_id(value: Any) -> bytes:
    text = str(value) if value is not None else ""
    return text.encode("utf-8")[:8].ljust(8, b"\0")


def _participant(p: dict[str, Any]) -> dict[str, Any]:
    pos = p["pos"]
    out: dict[str, Any] = {
        "ptcType": _enum_name(p.get("ptcType", 0), _PTC_TYPES, "ptcType"),
        "ptcId": p["ptcId"],
        "source": _enum_name(p.get("source", 0), _SOURCES, "source"),
        "secMark": p["secMark"],
        "pos": {"offsetLL": ("position-LatLon", {"lon": pos["lon"], "lat": pos["lat"]})},
        "posConfidence": {"pos": "unavailable"},
        "speed": p["speed"],
        "heading": p["heading"],
        "size": {"width": p["size"]["width"], "length": p["size"]["length"]},
    }
    if isinstance(p.get("id"), str) and len(p["id"]) == 16:
        out["id"] = bytes.fromhex(p["id"])
    if pos.get("ele") is not None or pos.get("elevation") is not None:
        out["pos"]["offsetV"] = ("elevation", pos.get("ele", pos.get("elevation")))
    if p["size"].get("height") is not None:
        out["size"]["height"] = p["size"]["height"]
    return out


def _openv2x_rsms(document: dict[str, Any], edition: str) -> list[FrameValue]:
    rsms = document["content"]["rsms"]
    if not isinstance(rsms, list) or not rsms:
        raise CodecError(ReasonCode.SCHEMA_INVALID, "content.rsms must be a non-empty list")
    frames: list[FrameValue] = []
    for rsm in rsms:
        ref = rsm["refPos"]
        ref_pos: dict[str, Any] = {"lat": ref["lat"], "long": ref.get("lon", ref.get("long"))}
        if ref.get("ele", ref.get("elevation")) is not None:
            ref_pos["elevation"] = ref.get("ele", ref.get("elevation"))
        participants = [_participant(p) for p in rsm["participants"]]
        if not participants:
            raise CodecError(ReasonCode.SCHEMA_INVALID, "an RSM needs at least one participant")
        # a platform may forward more than one ParticipantList's worth: split like an RSU would
        for start in range(0, len(participants), _MAX_PARTICIPANTS):
            body = {
                "msgCnt": rsm.get("msgCnt", document.get("msgCnt", 0)),
                "id": _rsu_id(rsm.get("id", document.get("id"))),
                "refPos": ref_pos,
                "participants": participants[start:start + _MAX_PARTICIPANTS],
            }
            check_frame(("rsmFrame", body), edition)  # the same ranges as UPER
            frames.append({"rsmFrame": body})
    return frames


def to_frames(document: Any, *, edition: str, topic: str) -> tuple[list[FrameValue], str]:
    """MessageFrame values of a parsed JSON rendering and the shape name (``jer`` or ``csae_json``)."""
    if not isinstance(document, dict):
        raise CodecError(ReasonCode.SCHEMA_INVALID, "a V2X JSON message is a JSON object")
    try:
        if len(document) == 1 and next(iter(document)) in FRAME_ALTERNATIVES:
            return [frame_from_jer(document, edition)], "jer"
        content = document.get("content")
        if isinstance(content, dict) and "rsms" in content:
            return _openv2x_rsms(document, edition), "csae_json"
        alternative = message_type_from_topic(topic)
        if alternative is not None:
            return [frame_from_jer({alternative: document}, edition)], "jer"
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        msg = f"JSON rendering does not match the CSAE message: {type(exc).__name__}: {exc}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg) from exc
    raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, "unrecognised V2X JSON shape")
