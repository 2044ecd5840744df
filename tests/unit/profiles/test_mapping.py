"""Golden tests: uplinks built by an independent LPP encoder land in the profile's items and units.

Through the whole normalize stage (decode, profile mapping, governance, validation); the LPP bytes
come from ``lpp_reference``, not from the project's codec.
"""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr

from contracts.dead_letter import ReasonCode
from contracts.record import WireRecord, WireSourceValue
from processors.catalog import Catalog, load_catalog
from processors.normalize.contract import BatchResult
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from tests.fixtures.normalize import FakeRegistry, TestDevice, chirpstack_up, raw_record
from tests.unit.profiles.lpp_reference import frame

EUI = "70b3d57ed0051234"
BOTH = ("agri_soil", "agri_weather")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def run(catalog: Catalog, profile: str, payload: bytes, datasets: tuple[str, ...]) -> BatchResult:
    device = TestDevice("agri", EUI, "jl_agri_bureau", datasets, profile=profile)
    proc = NormalizeProcessor(
        catalog=catalog,
        registry=FakeRegistry(device),
        mappers={"agri": AgriMapper(catalog=catalog)},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("s" * 24)}, "k1"),
    )
    return proc.process([raw_record(payload, device_id=EUI)])


def by_dataset(result: BatchResult) -> dict[str, WireRecord]:
    assert not result.dead_letters, result.dead_letters
    return {r.dataset: r for r in result.records}


def test_issue_layout_lands_in_the_right_items(catalog: Catalog) -> None:
    # ch1 analog input = soil moisture %, ch2 temperature °C, ch3 relative humidity %
    lpp = frame((1, "analog_input", 31.25), (2, "temperature", -3.4), (3, "humidity", 67.5))
    records = by_dataset(run(catalog, "soil-mth-lpp", chirpstack_up(EUI, lpp, f_cnt=7), BOTH))
    soil, weather = records["agri_soil"], records["agri_weather"]
    assert soil.values == {
        "soil_moisture": 31.25,
        "soil_temperature": -3.4,
        "f_cnt": 7,
        "rssi": -80.0,
        "snr": 7.5,
    }
    assert weather.values["air_humidity"] == 67.5
    assert "soil_ec" not in soil.values
    assert soil.provenance.profile == "soil-mth-lpp@1"
    assert "range_ok" in soil.quality
    # no conversion happened, so there is nothing to keep as original value
    assert soil.provenance.source_values == ()


def test_changed_channel_layout_is_profile_mismatch(catalog: Catalog) -> None:
    # the probe now sends humidity on channel 2 and temperature on channel 3
    lpp = frame((1, "analog_input", 31.25), (2, "humidity", 67.5), (3, "temperature", -3.4))
    result = run(catalog, "soil-mth-lpp", chirpstack_up(EUI, lpp), BOTH)
    assert result.records == ()
    (letter,) = result.dead_letters
    assert letter.reason == ReasonCode.PROFILE_MISMATCH
    assert "channel 2 sent humidity" in letter.detail
    assert "expects temperature" in letter.detail


def test_unknown_channel_is_not_stored_and_flagged(catalog: Catalog) -> None:
    lpp = frame((2, "temperature", 4.0), (9, "temperature", 30.0))
    soil = by_dataset(run(catalog, "soil-mth-lpp", chirpstack_up(EUI, lpp), BOTH))["agri_soil"]
    assert soil.values["soil_temperature"] == 4.0
    assert "unmapped_fields" in soil.quality


def test_fahrenheit_lpp_lands_in_celsius_with_original_kept(catalog: Catalog) -> None:
    lpp = frame(
        (1, "voltage", 3.61),
        (2, "analog_input", 28.4),
        (3, "analog_input", 50.9),
        (4, "generic_sensor", 812),
        (5, "analog_input", 6.55),
    )
    soil = by_dataset(run(catalog, "sim-soil-c-lpp", chirpstack_up(EUI, lpp), ("agri_soil",)))[
        "agri_soil"
    ]
    assert soil.values["soil_temperature"] == pytest.approx(10.5)
    assert soil.values["soil_ec"] == 812.0
    assert soil.provenance.source_values == (
        WireSourceValue(item="soil_temperature", field="channel 3 (analog_input)", value=50.9,
                    unit="[degF]"),
    )  # fmt: skip


def test_kpa_lpp_lands_in_hpa(catalog: Catalog) -> None:
    lpp = frame((1, "analog_input", 98.53), (3, "temperature", 12.0), (8, "voltage", 3.3))
    rec = by_dataset(run(catalog, "sim-weather-b-lpp", chirpstack_up(EUI, lpp), ("agri_weather",)))[
        "agri_weather"
    ]
    assert rec.values["barometric_pressure"] == pytest.approx(985.3)
    (kept,) = rec.provenance.source_values
    assert (kept.item, kept.value, kept.unit) == ("barometric_pressure", 98.53, "kPa")


def test_json_vendor_units_convert(catalog: Catalog) -> None:
    body = {"moisture_pct": 22.5, "temp_f": 41.0, "ec_ms_cm": 1.25, "ph": 6.8, "bat_mv": 3590}
    up = chirpstack_up(EUI, json.dumps(body).encode(), f_port=3)
    rec = by_dataset(run(catalog, "sim-soil-json", up, ("agri_soil",)))["agri_soil"]
    assert rec.values["soil_temperature"] == pytest.approx(5.0)
    assert rec.values["soil_ec"] == pytest.approx(1250.0)
    assert rec.values["battery"] == pytest.approx(3.59)
    kept = {s.item: (s.value, s.unit) for s in rec.provenance.source_values}
    assert kept == {
        "soil_temperature": (41.0, "[degF]"),
        "soil_ec": (1.25, "mS/cm"),
        "battery": (3590.0, "mV"),
    }


def test_network_server_object_in_pascal(catalog: Catalog) -> None:
    doc = json.loads(chirpstack_up(EUI, b"\x00"))
    del doc["data"]
    doc["object"] = {"air": {"t": -7.5, "rh": 81.0, "p_pa": 100870.0}, "vbat": 3.4}
    raw = json.dumps(doc).encode()
    rec = by_dataset(run(catalog, "sim-weather-object", raw, ("agri_weather",)))["agri_weather"]
    assert rec.values["barometric_pressure"] == pytest.approx(1008.7)
    assert rec.values["air_temperature"] == -7.5
    assert rec.provenance.codec.endswith("/lns")


def test_text_where_a_number_is_mapped_is_profile_mismatch(catalog: Catalog) -> None:
    up = chirpstack_up(EUI, json.dumps({"temp_f": "hot"}).encode(), f_port=3)
    (letter,) = run(catalog, "sim-soil-json", up, ("agri_soil",)).dead_letters
    assert letter.reason == ReasonCode.PROFILE_MISMATCH
    assert "path temp_f carries str 'hot'" in letter.detail


def test_profile_plausible_range_refuses(catalog: Catalog) -> None:
    lpp = frame((1, "temperature", 20.0), (4, "analog_input", 2.0))  # pH 2 < profile min 3
    (letter,) = run(catalog, "sim-soil-a-lpp", chirpstack_up(EUI, lpp), ("agri_soil",)).dead_letters
    assert letter.reason == ReasonCode.OUT_OF_RANGE
    assert "plausible range [3.0, 10.0]" in letter.detail


def test_reference_encoder_agrees_with_hand_written_bytes() -> None:
    # 0x0267 = temperature on channel 2: 0xFFDE = -34 -> -3.4 °C (the spec's own example style)
    assert frame((2, "temperature", -3.4)) == bytes.fromhex("0267ffde")
    assert base64.b64encode(frame((1, "analog_input", 31.25))) == b"AQIMNQ=="
