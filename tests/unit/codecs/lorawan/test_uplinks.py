"""ChirpStack v4, TTS v3 and plain JSON uplinks; per-device payload-codec choice; hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cayennelpp import LppFrame  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.codecs.lorawan import LorawanCodec, LorawanConfig, LorawanUplink, encode_lpp
from tests.unit.codecs.lorawan.samples import (
    APP_ID,
    CS_TOPIC,
    DEV_EUI,
    TTS_TOPIC,
    chirpstack_up,
    env,
    tts_up,
)


def _lpp_frame() -> bytes:
    frame = LppFrame()
    frame.add_humidity(1, 31.5)
    frame.add_temperature(2, -3.2)
    frame.add_voltage(3, 3.61)
    frame.add_gps(4, 43.8171, 125.3235, 215.5)
    return bytes(frame)


LPP_CODEC = LorawanCodec(LorawanConfig(default_codec="cayenne_lpp"))


def test_chirpstack_v4_with_cayenne_lpp() -> None:
    up = LPP_CODEC.decode(*env(chirpstack_up(_lpp_frame())))
    assert up.source == "chirpstack_v4" and up.applied_codec == "cayenne_lpp"
    assert (up.dev_eui, up.device_name, up.device_profile) == (DEV_EUI, "soil-07", "soil-lpp")
    assert up.application_id == APP_ID and up.tags == {"field": "north-3"}
    assert up.message_id == "3ac7e3c4-4401-4b8d-9386-a5c902f9202d"
    assert up.time == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert (up.f_cnt, up.f_port, up.confirmed, up.dev_addr) == (42, 85, False, "01fa3b2c")
    assert (up.frequency, up.spreading_factor) == (470300000, 7)
    assert up.frm_payload == _lpp_frame()
    assert [r.gateway_id for r in up.rx] == ["0016c001ff10a235", "0016c001ff10a236"]
    best = up.best_rx
    assert best is not None and (best.rssi, best.snr) == (-97.0, 7.5)
    assert up.fields == {
        "humidity_1": 31.5,
        "temperature_2": -3.2,
        "voltage_3": 3.61,
        "gps_4.lat": 43.8171,
        "gps_4.lon": 125.3235,
        "gps_4.alt": 215.5,
    }


def test_chirpstack_object_from_network_server_codec() -> None:
    obj = {"soil": {"moisture": 23.4, "temperature": 8.1}, "battery": 3.6, "ok": True}
    up = LorawanCodec().decode(*env(chirpstack_up(b"\x01\x02", obj=obj)))
    assert up.applied_codec == "lns"
    assert up.fields == {"soil.moisture": 23.4, "soil.temperature": 8.1, "battery": 3.6, "ok": True}
    assert up.lns_object == obj and up.frm_payload == b"\x01\x02"


def test_tts_v3_uplink() -> None:
    up = LPP_CODEC.decode(*env(tts_up(_lpp_frame()), TTS_TOPIC))
    assert up.source == "tts_v3" and up.dev_eui == DEV_EUI and up.device_name == "soil-07"
    assert up.application_id == "farm-app" and up.message_id == "as:up:01HZX3M8Q4Z5K2F7E9R1T6Y8W0"
    assert (up.f_cnt, up.f_port, up.frequency, up.spreading_factor) == (7, 2, 470500000, 9)
    assert up.rx[0].gateway_id == "gw-north" and up.rx[0].snr == 9.25
    assert up.fields["humidity_1"] == 31.5


def test_tts_decoded_payload_used_when_codec_is_none() -> None:
    up = LorawanCodec().decode(*env(tts_up(b"\x00", decoded={"air_temperature": 21.5}), TTS_TOPIC))
    assert up.applied_codec == "lns" and up.fields == {"air_temperature": 21.5}


def test_plain_json_document() -> None:
    up = LorawanCodec().decode(*env({"soil_moisture": 31.2, "battery": 3.55}, "farm/sensor/1"))
    assert up.source == "plain_json" and up.fields == {"soil_moisture": 31.2, "battery": 3.55}


def test_json_frm_payload_codec() -> None:
    frm = json.dumps({"air_temperature": 18.0, "air_humidity": 55}).encode()
    codec = LorawanCodec(LorawanConfig(profile_codecs={"weather-json": "json"}))
    up = codec.decode(*env(chirpstack_up(frm, profile="weather-json")))
    assert up.applied_codec == "json" and up.fields == {"air_temperature": 18.0, "air_humidity": 55}


def test_codec_choice_per_device_overrides_profile() -> None:
    frame = encode_lpp([(1, "temperature", 12.3)])
    codec = LorawanCodec(
        LorawanConfig(profile_codecs={"soil-lpp": "json"}),
        codec_for=lambda dev: "cayenne_lpp" if dev == DEV_EUI else None,
    )
    assert codec.decode(*env(chirpstack_up(frame))).fields == {"temperature_1": 12.3}


def test_lpp_fports_limit() -> None:
    codec = LorawanCodec(LorawanConfig(default_codec="cayenne_lpp", lpp_fports=(1,)))
    up = codec.decode(*env(chirpstack_up(b"\xff\xff", obj={"x": 1})))
    assert up.applied_codec == "lns" and up.fields == {"x": 1}


def test_bad_lpp_in_uplink_is_decode_error() -> None:
    with pytest.raises(CodecError) as err:
        LPP_CODEC.decode(*env(chirpstack_up(b"\x01\x67\x00")))
    assert err.value.reason is ReasonCode.DECODE_ERROR


def test_uplink_round_trips_through_json() -> None:
    up = LPP_CODEC.decode(*env(chirpstack_up(_lpp_frame())))
    assert LorawanUplink.model_validate_json(up.model_dump_json()) == up


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(data="***not base64***"), ReasonCode.SCHEMA_INVALID),
        (lambda d: d["deviceInfo"].update(devEui="xyz"), ReasonCode.SCHEMA_INVALID),
        (lambda d: d.update(fCnt="many"), ReasonCode.SCHEMA_INVALID),
        (lambda d: d.update(time="yesterday"), ReasonCode.SCHEMA_INVALID),
        (lambda d: d.update(rxInfo={"a": 1}), ReasonCode.SCHEMA_INVALID),
        (lambda d: d.update(deviceInfo=[]), ReasonCode.SCHEMA_INVALID),
    ],
)
def test_schema_errors(mutate: object, reason: ReasonCode) -> None:
    doc = chirpstack_up(b"\x01\x00\x01")
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(CodecError) as err:
        LPP_CODEC.decode(*env(doc))
    assert err.value.reason is reason


def test_other_events_and_chirpstack_v3_unsupported() -> None:
    join_topic = CS_TOPIC.replace("/event/up", "/event/join")
    with pytest.raises(CodecError) as err:
        LPP_CODEC.decode(*env(chirpstack_up(None), join_topic))
    assert err.value.reason is ReasonCode.UNSUPPORTED_MESSAGE
    v3 = {"applicationID": "1", "devEUI": "AASjCwAcBTA=", "data": ""}
    with pytest.raises(CodecError) as err:
        LPP_CODEC.decode(*env(v3))
    assert err.value.reason is ReasonCode.UNSUPPORTED_MESSAGE


@pytest.mark.timeout(30)
def test_oversized_and_deep_json_refused_quickly() -> None:
    codec = LorawanCodec(LorawanConfig(max_payload_bytes=64 * 1024, max_json_depth=16))
    big = b'{"a":"' + b"x" * (65 * 1024) + b'"}'
    with pytest.raises(CodecError) as err:
        codec.decode(*env(big))
    assert err.value.reason is ReasonCode.PAYLOAD_TOO_LARGE
    for deep in (b"[" * 40 + b"]" * 40, b'{"a":' * 20000 + b"1" + b"}" * 20000, b"[" * 60000):
        with pytest.raises(CodecError):
            LorawanCodec(LorawanConfig(max_json_depth=16)).decode(*env(deep))


def test_too_many_fields_refused() -> None:
    doc = {f"k{i}": i for i in range(600)}
    with pytest.raises(CodecError):
        LorawanCodec().decode(*env(doc, "farm/x"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_codec_error(data: bytes) -> None:
    try:
        up = LPP_CODEC.decode(*env(data))
    except CodecError as exc:
        assert exc.reason in ReasonCode
    else:
        assert isinstance(up, LorawanUplink)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "deviceInfo",
                "data",
                "fCnt",
                "fPort",
                "rxInfo",
                "time",
                "object",
                "end_device_ids",
                "uplink_message",
            ]
        ),
        JSONISH,
    )
)
def test_random_documents_only_codec_error(doc: dict[str, object]) -> None:
    try:
        up = LPP_CODEC.decode(*env(json.dumps(doc).encode()))
    except CodecError as exc:
        assert exc.reason in ReasonCode
    else:
        assert isinstance(up, LorawanUplink)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_base64_garbage_only_codec_error(text: str) -> None:
    doc = chirpstack_up(None)
    doc["data"] = text
    try:
        up = LPP_CODEC.decode(*env(doc))
    except CodecError as exc:
        assert exc.reason in ReasonCode
    else:
        assert up.frm_payload is not None
