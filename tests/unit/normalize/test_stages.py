"""Unit tests of the small stages: dedup cache, pseudonyms, timeliness, distances, validator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import SecretStr, ValidationError

from contracts.dead_letter import ReasonCode
from contracts.record import RecordValue
from processors.catalog import load_catalog
from processors.normalize.dedup import RecentKeys, natural_key
from processors.normalize.pseudonymize import PseudonymConfig, Pseudonymizer
from processors.normalize.quality import QualityConfig, distance_m, timeliness
from processors.normalize.validate import DatasetValidator, values_model


def test_recent_keys_is_bounded_lru() -> None:
    cache = RecentKeys(2)
    assert not cache.check_and_add("a")
    assert not cache.check_and_add("b")
    assert cache.check_and_add("a")  # refreshes a
    assert not cache.check_and_add("c")  # evicts b
    assert "b" not in cache
    assert cache.check_and_add("a")
    assert len(cache) == 2
    with pytest.raises(ValueError, match="capacity"):
        RecentKeys(0)


def test_natural_key_joins_parts() -> None:
    assert natural_key(("rsu1", "rsm", "2020")) == "rsu1|rsm|2020"


def test_pseudonym_stable_per_key_and_changes_with_rotation() -> None:
    keys = {"2024-01": SecretStr("a" * 32), "2024-02": SecretStr("b" * 32)}
    first = Pseudonymizer(keys, "2024-01")
    again = Pseudonymizer(keys, "2024-01")
    rotated = Pseudonymizer(keys, "2024-02")
    p = first.pseudonym(12345, "v2x_participant.ptc_id")
    assert p == again.pseudonym("12345", "v2x_participant.ptc_id")
    assert p == first.pseudonym(" 12345 ", "v2x_participant.ptc_id")
    assert p != rotated.pseudonym(12345, "v2x_participant.ptc_id")
    assert p != first.pseudonym(12345, "other.domain")
    assert "12345" not in p
    assert len(p) == 32
    assert rotated.key_id == "2024-02"


def test_pseudonym_config_validation() -> None:
    with pytest.raises(ValidationError, match="not among"):
        PseudonymConfig(keys={"a": SecretStr("x" * 20)}, active_key_id="b")
    with pytest.raises(ValidationError, match="shorter"):
        PseudonymConfig(keys={"a": SecretStr("short")}, active_key_id="a")
    assert "sensegate" not in repr(PseudonymConfig())


def test_timeliness_vectorized() -> None:
    now = 1_700_000_000 * 10**9
    cfg = QualityConfig(max_future_skew_s=5, late_after_s=60, max_age_s=3600, too_old="reject")
    obs = [now, now + 2 * 10**9, now + 10 * 10**9, now - 120 * 10**9, now - 7200 * 10**9]
    out = timeliness(obs, [now] * 5, cfg)
    assert out == [
        (None, "latency_ok"),
        (None, "clock_skew"),
        (ReasonCode.FUTURE_TIMESTAMP, "clock_skew"),
        (None, "late"),
        (ReasonCode.TOO_OLD, "too_old"),
    ]


def test_distance_m() -> None:
    d = distance_m([39.0, 29.7241937], [116.0, 107.4134465], 39.0, 116.0)
    assert d[0] == 0.0
    assert math.isclose(d[1] / 1000, 1296.7, rel_tol=0.01)


def test_validator_numpy_checks_per_item() -> None:
    entry = load_catalog().get("v2x_participant")
    assert entry is not None
    validator = DatasetValidator(entry)
    base: dict[str, RecordValue] = {
        "rsu_id": "r1",
        "source_msg": "rsm",
        "ptc_type": "motor",
        "ptc_id": "p",
        "lat": 39.0,
        "lon": 116.0,
    }
    rows = [
        base,
        {**base, "heading": 360.0},  # max is exclusive
        {**base, "speed": -0.5},
        {**base, "lat": float("-inf")},
        {**base, "ptc_type": "tram"},  # not in the code list
        {**base, "msg_cnt": 3.0},  # integer item given a float
        {key: v for key, v in base.items() if key != "lon"},
        {**base, "heading": 359.9875, "speed": 163.82, "msg_cnt": 127},
    ]
    out = validator.validate(rows)
    assert [o.reason for o in out] == [
        None,
        ReasonCode.OUT_OF_RANGE,
        ReasonCode.OUT_OF_RANGE,
        ReasonCode.VALUE_NOT_FINITE,
        ReasonCode.SCHEMA_INVALID,
        ReasonCode.SCHEMA_INVALID,
        ReasonCode.MISSING_REQUIRED,
        None,
    ]
    assert out[7].values["heading"] == 359.9875
    assert "heading" in out[1].detail


def test_values_model_json_schema_has_units_and_ranges() -> None:
    entry = load_catalog().get("agri_weather")
    assert entry is not None
    schema = values_model(entry).model_json_schema()
    temp = schema["properties"]["air_temperature"]
    assert temp["x-ucum"] == "Cel"
    assert temp["minimum"] == -50.0
    assert schema["additionalProperties"] is False


def test_validator_large_batch_columns() -> None:
    entry = load_catalog().get("agri_soil")
    assert entry is not None
    rows = [{"soil_moisture": float(v)} for v in np.linspace(-10, 110, 1201)]
    out = DatasetValidator(entry).validate(rows)
    ok = sum(o.reason is None for o in out)
    assert ok == 1001  # 0..100 in steps of 0.1
