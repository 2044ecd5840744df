"""Family mappers on codec outputs: genuine V2X captures (tests/data), CSAE JSON, LPP, Sparkplug B."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr

from contracts.dead_letter import ReasonCode
from processors.catalog import Catalog, load_catalog
from processors.codecs.sparkplug import DataType, MetricSpec, birth_payload, encode_payload
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.mappers.iiot import IiotMapper
from processors.normalize.mappers.v2x import V2xMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from processors.profiles import ProfileBook, load_profiles, parse_profile
from tests.fixtures.golden import case
from tests.fixtures.normalize import (
    FakeRegistry,
    TestDevice,
    chirpstack_up,
    csae_rsm_json,
    raw_record,
    soil_lpp,
)

RSM_CAPTURE = case("v2x", "rsm-capture-2020-11-26")
SPAT_CAPTURE = case("v2x", "spat-capture-2020-11-14")
V2X_SETS = ("v2x_participant", "v2x_signal_phase", "v2x_road_event", "v2x_intersection")
RSU = "JL-CC-0007"
EUI = "a1b2c3d4e5f60718"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# A JSON weather profile whose paths are the item names (tests only; the fleet's are in profiles/).
WEATHER_JSON = parse_profile(
    {
        "name": "test-weather-json",
        "version": 1,
        "family": "agri",
        "codec": "json",
        "dataset": "agri_weather",
        "description": "test",
        "fields": [
            {"path": "air_temperature", "item": "air_temperature"},
            {"path": "air_humidity", "item": "air_humidity"},
        ],
    }
)


def processor(catalog: Catalog, *devices: TestDevice, old_ok: bool = False) -> NormalizeProcessor:
    quality = QualityConfig(max_age_s=1e10, late_after_s=1e10) if old_ok else QualityConfig()
    book = ProfileBook((*load_profiles(), WEATHER_JSON))
    agri = AgriMapper(profiles=book, catalog=catalog)
    return NormalizeProcessor(
        catalog=catalog,
        registry=FakeRegistry(*devices),
        mappers={"v2x": V2xMapper(), "agri": agri, "iiot": IiotMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("s" * 24)}, "k1"),
        quality=quality,
    )


def test_genuine_rsm_capture(catalog: Catalog) -> None:
    expected = RSM_CAPTURE.expected
    dev = TestDevice("v2x", "12345", "jl_traffic_police", V2X_SETS, v2x_framing=True)
    result = processor(catalog, dev, old_ok=True).process(
        [raw_record(RSM_CAPTURE.hex("frame.hex"), family="v2x", device_id="12345")]
    )
    assert not result.dead_letters
    (rec,) = result.records
    p = expected["participants"][0]["derived"]
    assert rec.values["lat"] == pytest.approx(p["lat_deg"])
    assert rec.values["lon"] == pytest.approx(p["lon_deg"])
    assert rec.values["speed"] == pytest.approx(p["speed_mps"])
    assert rec.values["heading"] == pytest.approx(p["heading_deg"])
    assert rec.values["ptc_type"] == "non_motor"
    assert rec.values["source"] == "video"
    # 1 300 km from refPos: decoded, kept, and flagged
    assert "position_implausible" in rec.quality
    assert rec.values["ptc_id"] != "1"
    assert rec.provenance.pseudonym_key_id == "k1"
    assert "|p0" in rec.natural_key


def test_genuine_spat_capture(catalog: Catalog) -> None:
    expected = SPAT_CAPTURE.expected
    dev = TestDevice("v2x", "u_id_123", "jl_traffic_police", V2X_SETS, v2x_framing=True)
    result = processor(catalog, dev, old_ok=True).process(
        [raw_record(
            SPAT_CAPTURE.hex("frame.hex"),
            family="v2x",
            device_id="u_id_123",
            topic="V2X/RSU/u_id_123/SPAT/UP",
        )]
    )
    assert not result.dead_letters
    assert len(result.records) == 8  # 8 phases, current state each
    assert {r.dataset for r in result.records} == {"v2x_signal_phase"}
    assert all(r.values["msg_cnt"] == expected["msgCnt"] for r in result.records)
    assert len({r.record_id for r in result.records}) == 8


def test_framing_error_is_dead_lettered(catalog: Catalog) -> None:
    dev = TestDevice("v2x", "12345", "jl_traffic_police", V2X_SETS, v2x_framing=True)
    result = processor(catalog, dev).process(
        [raw_record(RSM_CAPTURE.hex("frame.hex")[:-3], family="v2x", device_id="12345")]
    )
    assert [d.reason for d in result.dead_letters] == [ReasonCode.FRAMING_ERROR]


def test_garbage_uper_is_decode_error(catalog: Catalog) -> None:
    dev = TestDevice("v2x", "12345", "jl_traffic_police", V2X_SETS)
    result = processor(catalog, dev).process(
        [raw_record(b"\xff\x00\x13garbage", family="v2x", device_id="12345")]
    )
    assert result.dead_letters[0].reason == ReasonCode.DECODE_ERROR


def test_csae_json_rsm_identity_and_pseudonyms(catalog: Catalog) -> None:
    dev = TestDevice("v2x", RSU, "jl_traffic_police", V2X_SETS)
    raw = raw_record(csae_rsm_json(RSU, [54321, 777]), family="v2x", device_id=RSU)
    result = processor(catalog, dev).process([raw])
    assert len(result.records) == 2
    for rec in result.records:
        assert b"54321" not in rec.to_kafka_value()
        assert rec.values["speed"] == pytest.approx(12.5)
        assert "position_ok" in rec.quality
    spoofed = raw_record(csae_rsm_json("JL-XX-9999", [1]), family="v2x", device_id=RSU)
    result = processor(catalog, dev).process([spoofed])
    assert [d.reason for d in result.dead_letters] == [ReasonCode.IDENTITY_MISMATCH]


def test_chirpstack_lpp_soil(catalog: Catalog) -> None:
    dev = TestDevice(
        "agri", EUI, "jl_agri_bureau", ("agri_soil",), lat=43.6, lon=125.0, profile="sim-soil-a-lpp"
    )
    up = chirpstack_up(
        EUI, soil_lpp(31.5, 12.5), f_cnt=9, dedup_id="6a3e1c9e-0000-4000-8000-000000000001"
    )
    result = processor(catalog, dev).process([raw_record(up, device_id=EUI)])
    assert not result.dead_letters
    (rec,) = result.records
    assert rec.values == {
        "soil_temperature": 12.5,
        "soil_moisture": 31.5,
        "battery": 3.6,
        "f_cnt": 9,
        "rssi": -80.0,
        "snr": 7.5,
    }
    assert rec.natural_key.endswith("6a3e1c9e-0000-4000-8000-000000000001")
    assert rec.location is not None
    assert rec.provenance.codec.startswith("lorawan/chirpstack_v4/cayenne_lpp")
    assert rec.provenance.profile == "sim-soil-a-lpp@1"


def test_chirpstack_json_weather_and_spoof(catalog: Catalog) -> None:
    dev = TestDevice("agri", EUI, "jl_agri_bureau", ("agri_weather",), profile="test-weather-json")
    frm = json.dumps({"air_temperature": -12.0, "air_humidity": 40.5, "wind": 3}).encode()
    ok = processor(catalog, dev).process(
        [raw_record(chirpstack_up(EUI, frm, f_port=3), device_id=EUI)]
    )
    (rec,) = ok.records
    assert rec.values["air_temperature"] == -12.0
    assert "unmapped_fields" in rec.quality
    spoof = raw_record(chirpstack_up("ffffffffffffffff", frm), device_id=EUI)
    bad = processor(catalog, dev).process([spoof])
    assert [d.reason for d in bad.dead_letters] == [ReasonCode.IDENTITY_MISMATCH]


def test_device_without_profile_is_no_profile(catalog: Catalog) -> None:
    dev = TestDevice("agri", EUI, "jl_agri_bureau", ("agri_soil",), codec="chirpstack_lpp")
    up = chirpstack_up(EUI, soil_lpp())
    result = processor(catalog, dev).process([raw_record(up, device_id=EUI)])
    (letter,) = result.dead_letters
    assert letter.reason == ReasonCode.NO_PROFILE
    assert f"devices add agri {EUI} --profile NAME" in letter.detail
    assert not result.records


def test_sparkplug_birth_data_and_no_birth(catalog: Catalog) -> None:
    dev = TestDevice(
        "iiot",
        "Plant1/press-07",
        "jl_industry_dept",
        ("iiot_metric",),
        industrial_id="88.101.1/press-07",
    )
    proc = processor(catalog, dev)
    now = int(time.time() * 1000)
    birth = birth_payload(
        [MetricSpec(name="Hydraulic/OilTemp", alias=3, value=71.0, datatype=DataType.DOUBLE)],
        bd_seq=4,
        seq=0,
        timestamp=now,
    )
    data = encode_payload(
        [MetricSpec(alias=3, value=71.4, datatype=DataType.DOUBLE)], seq=1, timestamp=now + 1
    )
    node = "spBv1.0/Plant1/{}/press-07"
    result = proc.process(
        [
            raw_record(
                birth,
                family="iiot",
                device_id="Plant1/press-07",
                topic=node.format("NBIRTH"),
                offset=0,
            ),
            raw_record(
                data,
                family="iiot",
                device_id="Plant1/press-07",
                topic=node.format("NDATA"),
                offset=1,
            ),
        ]
    )
    assert not result.dead_letters
    assert [r.values["metric"] for r in result.records] == [
        "Hydraulic/OilTemp",
        "Hydraulic/OilTemp",
    ]
    last = result.records[1].values
    assert last["value_double"] == 71.4
    assert last["bd_seq"] == 4
    assert last["industrial_id"] == "88.101.1/press-07"
    assert last["datatype"] == "Double"
    # a fresh host has no birth: refused, and a rebirth is requested
    fresh = processor(catalog, dev)
    orphan = fresh.process(
        [raw_record(data, family="iiot", device_id="Plant1/press-07", topic=node.format("NDATA"))]
    )
    assert [d.reason for d in orphan.dead_letters] == [ReasonCode.SPARKPLUG_NO_BIRTH]
    assert [(r.group, r.edge_node) for r in orphan.rebirths] == [("Plant1", "press-07")]
    assert orphan.rebirths[0].topic == "spBv1.0/Plant1/NCMD/press-07"


def test_static_map_sent_twice_in_one_minute_is_two_records_redelivery_is_one(
    catalog: Catalog,
) -> None:
    # A static MAP repeats msgCnt and carries only a minute of the year; two transmissions a second
    # apart (vendor header times differ) are distinct messages, a redelivery of the same bytes not.
    from processors.codecs.v2x import build_vendor_header, encode_frame
    from tests.unit.codecs.v2x.samples import map_data

    body = encode_frame(map_data(), "csae53-2019")
    map_topic = "V2X/RSU/RSU00001/MAP/UP"
    t0 = 1_795_000_000_000
    first = build_vendor_header("RSU00001", t0, body)  # header + body
    second = build_vendor_header("RSU00001", t0 + 1000, body)
    dev = TestDevice("v2x", "RSU00001", "jl_traffic_police", V2X_SETS, v2x_framing=True)
    result = processor(catalog, dev, old_ok=True).process(
        [
            raw_record(first, family="v2x", device_id="RSU00001", topic=map_topic, offset=0),
            raw_record(second, family="v2x", device_id="RSU00001", topic=map_topic, offset=1),
            raw_record(first, family="v2x", device_id="RSU00001", topic=map_topic, offset=2),  # redelivery
        ]
    )
    assert not result.dead_letters
    assert {r.dataset for r in result.records} == {"v2x_intersection"}
    assert len({r.record_id for r in result.records}) == 2
