"""Golden tests: the genuine RSU captures in shared testdata decode to their expected values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

TESTDATA = Path(__file__).resolve().parents[5] / "shared" / "testdata" / "v2x"
if not TESTDATA.is_dir():  # CI lays shared/ beside the clone; developers have /work/shared
    TESTDATA = Path("/work/shared/testdata/v2x")

pytestmark = pytest.mark.skipif(not TESTDATA.is_dir(), reason="shared testdata not found")


def _capture(name: str) -> tuple[bytes, dict[str, Any]]:
    frame = bytes.fromhex((TESTDATA / f"{name}_frame.hex").read_text().strip())
    expected = json.loads((TESTDATA / f"{name}_expected.json").read_text())
    return frame, expected


def _envelope(frame: bytes, kind: str) -> Envelope:
    return Envelope(payload=frame, topic=f"V2X/RSU/u_id_123/{kind.upper()}/UP", family="v2x",
                    device_id="u_id_123", received_ns=1_700_000_000_000_000_000, gateway_id="t")


@pytest.mark.parametrize("name", ["rsm", "spat"])
def test_framing_header_matches(name: str) -> None:
    frame, expected = _capture(name)
    header, body = split_vendor_frame(frame)
    framing = expected["framing"]
    assert header.device_id == framing["device_id_ascii"]
    assert header.device_id_hex == framing["device_id_hex"]
    assert header.epoch_ms == framing["capture_epoch_ms"]
    assert header.body_length == framing["declared_body_length"] == len(body)


@pytest.mark.parametrize("name", ["rsm", "spat"])
def test_decodes_to_expected_jer_and_reencodes_bit_exact(name: str) -> None:
    frame, expected = _capture(name)
    header, body = split_vendor_frame(frame)
    value = decode_frame(body, "csae53-2019")
    assert next(iter(value)) == expected["messageFrame_choice"]
    assert frame_to_jer(value) == expected["jer"]
    assert encode_frame(value, "csae53-2019") == body
    assert build_vendor_header(header.device_id, header.epoch_ms, body) == frame


@pytest.mark.parametrize("name", ["rsm", "spat"])
def test_length_mismatch_is_framing_error(name: str) -> None:
    frame, _ = _capture(name)
    codec = V2xCodec(framing=True)
    for bad in (frame[:-1], frame + b"\x00", frame[:10]):
        with pytest.raises(CodecError) as info:
            codec.decode(bad, _envelope(bad, name))
        assert info.value.reason is ReasonCode.FRAMING_ERROR


def test_rsm_capture_model() -> None:
    frame, expected = _capture("rsm")
    message = V2xCodec(framing=True).decode(frame, _envelope(frame, "rsm"))
    assert message.msg_type == "rsm"
    assert message.encoding == "uper"
    assert message.msg_cnt == expected["msgCnt"]
    assert message.sender_id_hex == expected["id_hex"]
    assert message.ref_lat == pytest.approx(expected["refPos"]["derived"]["lat_deg"])
    assert message.ref_lon == pytest.approx(expected["refPos"]["derived"]["lon_deg"])
    assert message.ref_elevation is None
    assert message.reference_time.isoformat().startswith("2020-11-26T12:18:44.710")
    (p,) = message.participants
    want = expected["participants"][0]
    derived = want["derived"]
    assert (p.ptc_type, p.ptc_id, p.source) == ("non_motor", 1, "video")
    assert p.sec_mark == want["secMark"]
    assert p.position_is_absolute is want["pos_is_absolute"]
    assert p.lat == pytest.approx(derived["lat_deg"], abs=1e-9)
    assert p.lon == pytest.approx(derived["lon_deg"], abs=1e-9)
    assert p.speed == pytest.approx(derived["speed_mps"])
    assert p.heading == pytest.approx(derived["heading_deg"])
    # width/length 0 means unknown: kept as None rather than a 0 m vehicle
    assert p.width is None and p.length is None
    assert p.distance_from_ref_km == pytest.approx(derived["distance_from_refPos_km"], abs=0.1)
    assert p.event_time is not None and p.event_time.second == 12
    assert p.event_time.microsecond == 902_000
    assert any("km from refPos" in w for w in message.warnings)


def test_spat_capture_model() -> None:
    frame, expected = _capture("spat")
    message = V2xCodec(framing=True).decode(frame, _envelope(frame, "spat"))
    assert message.msg_type == "spat"
    assert (message.msg_cnt, message.moy, message.sec_mark) == (
        expected["msgCnt"], expected["moy"], expected["timeStamp"])
    assert message.event_time is not None
    assert message.event_time.isoformat() == "2020-11-14T06:55:05.238000+00:00"
    assert expected["derived"]["moy_utc_minute"] == message.event_time.strftime("%Y-%m-%dT%H:%MZ")
    (state,) = expected["intersections"]
    rows = [(p, i, s) for p in state["phases"] for i, s in enumerate(p["phaseStates"])]
    assert len(message.phases) == len(rows) == 24
    for got, (phase, index, want) in zip(message.phases, rows, strict=True):
        assert got.intersection_id == f"{state['intersectionId']['region']}-{state['intersectionId']['id']}"
        assert got.intersection_status == int(state["status_hex"], 16) == 0x0400
        assert got.status_flags == tuple(state["status_flags"])
        assert (got.phase_id, got.state_index) == (phase["id"], index)
        assert got.light == want["light"].replace("-", "_")
        assert got.timing == want["timing_choice"]
        seconds = want["seconds_from_now"]
        assert got.start_time_s == pytest.approx(seconds["startTime"])
        assert got.likely_end_time_s == pytest.approx(seconds["likelyEndTime"])
        assert got.next_start_time_s == pytest.approx(seconds["nextStartTime"])
        assert got.next_duration_s == pytest.approx(seconds["nextDuration"])
