"""Round trips of hand-built BSM, MAP, RSM, SPAT and RSI frames; JSON renderings equal UPER."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from contracts.envelope import Envelope
from processors.codecs.v2x import (
    V2xCodec,
    V2xMessage,
    build_vendor_header,
    decode_frame,
    decode_frame_json,
    encode_frame,
    frame_to_jer,
)
from tests.unit.codecs.v2x import samples

RX_NS = 1_605_336_902_333_000_000  # 2020-11-14T06:55:02.333Z


def _env(payload: bytes, kind: str) -> Envelope:
    return Envelope(payload=payload, topic=f"V2X/RSU/R1/{kind.upper()}/UP", family="v2x",
                    device_id="R1", received_ns=RX_NS, gateway_id="t")


def _same_model(a: V2xMessage, b: V2xMessage) -> None:
    skip = {"encoding", "framing"}
    assert a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


@pytest.mark.parametrize("kind", sorted(samples.ALL))
def test_uper_round_trip(kind: str) -> None:
    value = samples.ALL[kind]()
    body = encode_frame(value)
    assert decode_frame(body) == value
    assert encode_frame(decode_frame(body)) == body


@pytest.mark.parametrize("kind", sorted(samples.ALL))
def test_jer_rendering_decodes_to_same_model(kind: str) -> None:
    value = samples.ALL[kind]()
    body = encode_frame(value)
    from_uper = V2xCodec().decode(body, _env(body, kind))
    text = json.dumps(frame_to_jer(value)).encode()
    from_json = V2xCodec().decode(text, _env(text, kind))
    assert from_json.encoding == "jer"
    _same_model(from_uper, from_json)
    assert decode_frame_json(text) == value
    # a bare body with the standard's names, the message type taken from the topic
    bare = json.dumps(frame_to_jer(value)[next(iter(value))]).encode()
    _same_model(from_uper, V2xCodec().decode(bare, _env(bare, kind)))


def test_framed_decode_uses_header_time() -> None:
    body = encode_frame(samples.rsm(2))
    framed = build_vendor_header("RSU-7", 1_605_336_902_333, body)
    message = V2xCodec(framing=True).decode(framed, _env(framed, "rsm"))
    assert message.framing is not None and message.framing.device_id == "RSU-7"
    assert message.reference_time.isoformat() == "2020-11-14T06:55:02.333000+00:00"


Check = Callable[[V2xMessage], None]


def _check_bsm(m: V2xMessage) -> None:
    (p,) = m.participants
    assert m.sender_id_hex == "0102030405060708" == p.vehicle_id_hex
    assert (p.ptc_type, p.source, p.speed, p.heading) == ("motor", "selfinfo", None, 359.9875)
    assert p.lat == pytest.approx(43.8813002) and p.elevation == pytest.approx(216.0)
    assert m.event_time is not None and m.event_time.isoformat() == "2020-11-14T06:54:59.999000+00:00"


def _check_rsm(m: V2xMessage) -> None:
    assert [p.ptc_id for p in m.participants] == [1, 2, 3]
    p = m.participants[2]
    assert p.lat == pytest.approx(43.8812345 - 100e-7) and p.lon == pytest.approx(125.3154321 + 200e-7)
    assert p.elevation == pytest.approx(215.5)
    assert (p.speed, p.heading, p.width, p.length, p.height) == pytest.approx((12.5, 90, 1.85, 4.7, 1.5))
    assert p.vehicle_class == 10 and not p.position_is_absolute and m.warnings == ()


def _check_spat(m: V2xMessage) -> None:
    green, yellow, red, dark = m.phases
    assert green.light == "protected_green" and green.likely_end_time_s == pytest.approx(15.0)
    assert green.min_end_time_s is None and yellow.next_duration_s is None
    # 06:55:05.238 is 3305.238 s into the hour; mark 33000 (3300 s) began 5.238 s earlier
    assert red.timing == "utc" and red.start_time_s == pytest.approx(-5.238)
    assert red.next_duration_s == pytest.approx(20.0)
    assert dark.timing is None and dark.light == "dark"
    assert green.intersection_id == "1-42" and green.status_flags == ("fixedTimeOperation",)


def _check_map(m: V2xMessage) -> None:
    (node,) = m.intersections
    assert (node.intersection_id, node.node_name, node.link_count, node.lane_count) == (
        "1-42", "Renmin-Jiefang", 1, 2)
    link = node.links[0]
    assert link.upstream_node_id == "1-41" and link.width_m == pytest.approx(10.5)
    assert link.speed_limits_mps == pytest.approx((16.68,)) and link.phase_ids == (1,)
    assert link.lanes[0].maneuvers == ("straight",) and link.lanes[1].maneuvers == ("left",)
    assert link.lanes[0].phase_ids == (1,)


def _check_rsi(m: V2xMessage) -> None:
    event, sign = m.road_events
    assert (event.kind, event.event_type, event.event_source, event.priority) == (
        "event", 707, "detection", 7)
    assert event.description == "拥堵" and event.radius_m == pytest.approx(50.0)
    assert event.lat == pytest.approx(43.8812345 - 3000e-7)
    assert event.confidence == pytest.approx(0.9)
    assert event.start_time is not None and event.start_time.isoformat() == "2020-11-14T06:50:00+00:00"
    assert (sign.kind, sign.event_type, sign.description, sign.lat) == ("sign", 38, "road works", None)


CHECKS: dict[str, Check] = {"bsm": _check_bsm, "rsm": _check_rsm, "spat": _check_spat,
                            "map": _check_map, "rsi": _check_rsi}


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_typed_model(kind: str) -> None:
    body = encode_frame(samples.ALL[kind]())
    message = V2xCodec().decode(body, _env(body, kind))
    assert message.msg_type == kind
    CHECKS[kind](message)


def _openv2x(participants: list[dict[str, Any]]) -> bytes:
    return json.dumps({"id": "JL-CC-0007", "content": {"rsms": [{
        "refPos": {"lat": 438812345, "lon": 1253154321, "ele": 2150},
        "participants": participants}]}}).encode()


def test_openv2x_rsm_equals_uper() -> None:
    car = {"ptcType": "motor", "ptcId": 12, "source": "lidar", "secMark": 40300,
           "pos": {"lat": 438813002, "lon": 1253155870}, "speed": 625, "heading": 7200,
           "size": {"width": 185, "length": 470, "height": 30}}
    text = _openv2x([car])
    from_json = V2xCodec().decode(text, _env(text, "rsm"))
    assert from_json.encoding == "csae_json"
    (p,) = from_json.participants
    assert (p.lat, p.lon, p.speed, p.heading) == pytest.approx((43.8813002, 125.315587, 12.5, 90.0))
    body = encode_frame(from_json.raw)
    _same_model(from_json, V2xCodec().decode(body, _env(body, "rsm")))


def test_openv2x_many_participants_are_split_and_merged() -> None:
    car = {"ptcType": 1, "ptcId": 0, "source": "microwave_radar", "secMark": 100,
           "pos": {"lat": 438813002, "lon": 1253155870}, "speed": 0, "heading": 0,
           "size": {"width": 185, "length": 470}}
    text = _openv2x([dict(car, ptcId=i) for i in range(20)])
    codec = V2xCodec()
    assert [len(m.participants) for m in codec.decode_all(text, _env(text, "rsm"))] == [16, 4]
    merged = codec.decode(text, _env(text, "rsm"))
    assert [p.ptc_id for p in merged.participants] == list(range(20))
    assert merged.participants[0].source == "microwave_radar"
