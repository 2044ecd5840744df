"""Golden test of the V2X codec: every case under tests/data/v2x/ decodes to its expected values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.codecs.base import CodecError
from processors.codecs.v2x import (
    V2xCodec,
    build_vendor_header,
    decode_frame,
    encode_frame,
    frame_to_jer,
    split_vendor_frame,
)
from tests.fixtures.golden import GoldenCase, check_params


def _envelope(frame: bytes, kind: str) -> Envelope:
    return Envelope(payload=frame, topic=f"V2X/RSU/u_id_123/{kind.upper()}/UP", family="v2x",
                    device_id="u_id_123", received_ns=1_700_000_000_000_000_000, gateway_id="t")


def _kind(case: GoldenCase) -> str:
    return str(case.expected["messageFrame_choice"]).removesuffix("Frame")


def framing(case: GoldenCase) -> None:
    """The vendor header parses to the recorded device id, capture time and body length."""
    frame, expected = case.hex("frame.hex"), case.expected
    header, body = split_vendor_frame(frame)
    recorded = expected["framing"]
    assert header.device_id == recorded["device_id_ascii"]
    assert header.device_id_hex == recorded["device_id_hex"]
    assert header.epoch_ms == recorded["capture_epoch_ms"]
    assert header.body_length == recorded["declared_body_length"] == len(body)


def decode(case: GoldenCase) -> None:
    """The body decodes to the expected JER and re-encodes bit-exact, header included."""
    frame, expected = case.hex("frame.hex"), case.expected
    header, body = split_vendor_frame(frame)
    value = decode_frame(body, "csae53-2019")
    assert next(iter(value)) == expected["messageFrame_choice"]
    assert frame_to_jer(value) == expected["jer"]
    assert encode_frame(value, "csae53-2019") == body
    assert build_vendor_header(header.device_id, header.epoch_ms, body) == frame


def length_mismatch(case: GoldenCase) -> None:
    """A frame one byte short or long, or cut inside the header, is a framing error."""
    frame = case.hex("frame.hex")
    codec = V2xCodec(framing=True)
    for bad in (frame[:-1], frame + b"\x00", frame[:10]):
        with pytest.raises(CodecError) as info:
            codec.decode(bad, _envelope(bad, _kind(case)))
        assert info.value.reason is ReasonCode.FRAMING_ERROR


def rsm_model(case: GoldenCase) -> None:
    """An RSM capture becomes the expected typed message: participant, units, plausibility warning."""
    frame, expected = case.hex("frame.hex"), case.expected
    message = V2xCodec(framing=True).decode(frame, _envelope(frame, "rsm"))
    assert message.msg_type == "rsm"
    assert message.encoding == "uper"
    assert message.msg_cnt == expected["msgCnt"]
    assert message.sender_id_hex == expected["id_hex"]
    assert message.ref_lat == pytest.approx(expected["refPos"]["derived"]["lat_deg"])
    assert message.ref_lon == pytest.approx(expected["refPos"]["derived"]["lon_deg"])
    assert message.ref_elevation is None
    capture_utc = expected["framing"]["capture_utc"].removesuffix("Z")
    assert message.reference_time.isoformat().startswith(capture_utc)
    (p,) = message.participants
    want = expected["participants"][0]
    derived = want["derived"]
    assert (p.ptc_type, p.ptc_id, p.source) == (
        want["ptcType"].replace("-", "_"), want["ptcId"], want["source"])
    assert p.sec_mark == want["secMark"]
    assert p.position_is_absolute is want["pos_is_absolute"]
    assert p.lat == pytest.approx(derived["lat_deg"], abs=1e-9)
    assert p.lon == pytest.approx(derived["lon_deg"], abs=1e-9)
    assert p.speed == pytest.approx(derived["speed_mps"])
    assert p.heading == pytest.approx(derived["heading_deg"])
    # width/length 0 means unknown: kept as None rather than a 0 m vehicle
    assert want["size"] == {"width": 0, "length": 0}
    assert p.width is None and p.length is None
    assert p.distance_from_ref_km == pytest.approx(derived["distance_from_refPos_km"], abs=0.1)
    assert p.event_time is not None and p.event_time.second == want["secMark"] // 1000
    assert p.event_time.microsecond == want["secMark"] % 1000 * 1000
    # decoded and kept, but a participant that far from the RSU is flagged
    assert derived["distance_from_refPos_km"] > 10
    assert any("km from refPos" in w for w in message.warnings)


def spat_model(case: GoldenCase) -> None:
    """A SPAT capture becomes one typed row per phase state with times in seconds."""
    frame, expected = case.hex("frame.hex"), case.expected
    message = V2xCodec(framing=True).decode(frame, _envelope(frame, "spat"))
    assert message.msg_type == "spat"
    assert (message.msg_cnt, message.moy, message.sec_mark) == (
        expected["msgCnt"], expected["moy"], expected["timeStamp"])
    assert message.event_time is not None
    minute = expected["derived"]["moy_utc_minute"].removesuffix("Z")
    seconds_in_minute = expected["derived"]["timeStamp_seconds_in_minute"]
    assert message.event_time.isoformat() == f"{minute}:{seconds_in_minute:06.3f}000+00:00"
    assert expected["derived"]["moy_utc_minute"] == message.event_time.strftime("%Y-%m-%dT%H:%MZ")
    (state,) = expected["intersections"]
    rows = [(p, i, s) for p in state["phases"] for i, s in enumerate(p["phaseStates"])]
    assert len(state["phases"]) == state["phase_count"]
    assert len(message.phases) == len(rows)
    for got, (phase, index, want) in zip(message.phases, rows, strict=True):
        assert got.intersection_id == f"{state['intersectionId']['region']}-{state['intersectionId']['id']}"
        assert got.intersection_status == int(state["status_hex"], 16)
        assert got.status_flags == tuple(state["status_flags"])
        assert (got.phase_id, got.state_index) == (phase["id"], index)
        assert got.light == want["light"].replace("-", "_")
        assert got.timing == want["timing_choice"]
        seconds = want["seconds_from_now"]
        assert got.start_time_s == pytest.approx(seconds["startTime"])
        assert got.likely_end_time_s == pytest.approx(seconds["likelyEndTime"])
        assert got.next_start_time_s == pytest.approx(seconds["nextStartTime"])
        assert got.next_duration_s == pytest.approx(seconds["nextDuration"])


CHECKS: dict[str, Callable[[GoldenCase], None]] = {
    f.__name__: f for f in (framing, decode, length_mismatch, rsm_model, spat_model)
}


@pytest.mark.parametrize(("case", "check"), check_params("v2x", CHECKS))
def test_golden_case(case: GoldenCase, check: Callable[[GoldenCase], None]) -> None:
    """Each case folder passes every check its expected.json lists."""
    check(case)
