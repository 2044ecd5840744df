"""Generic pipeline stages with a JSON test mapper: governance, timeliness, validation, keys, dedup."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import SecretStr

from contracts.dead_letter import ReasonCode
from contracts.record import DatasetRecord
from processors.catalog import Catalog, load_catalog
from processors.normalize.dedup import RecentKeys
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from tests.fixtures.normalize import FakeRegistry, JsonTestMapper, TestDevice, raw_record

SOIL = "0011223344556677"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def make(catalog: Catalog, *, quality: QualityConfig | None = None) -> NormalizeProcessor:
    registry = FakeRegistry(
        TestDevice("agri", SOIL, "jl_agri_bureau", ("agri_soil",)),
        TestDevice("agri", "aaaaaaaaaaaaaaaa", "jl_industry_dept", ("agri_soil",)),
    )
    return NormalizeProcessor(
        catalog=catalog,
        registry=registry,
        mappers={"agri": JsonTestMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("x" * 20)}, "k1"),
        quality=quality,
        dedup=RecentKeys(100),
    )


def payload(values: dict[str, object], **extra: object) -> bytes:
    return json.dumps({"dataset": "agri_soil", "values": values, **extra}).encode()


def test_valid_record_carries_provenance_and_flags(catalog: Catalog) -> None:
    raw = raw_record(payload({"soil_moisture": 31.5, "f_cnt": 7}, key="7"), offset=42)
    result = make(catalog).process([raw])
    assert not result.dead_letters
    (record,) = result.records
    assert record.dataset == "agri_soil"
    assert record.catalog_version == 1
    assert record.values == {"soil_moisture": 31.5, "f_cnt": 7}
    assert record.provenance.kafka_offset == 42
    assert record.provenance.raw_sha256 == raw.envelope.sha256
    assert record.provenance.pseudonym_key_id is None
    assert {"schema_ok", "range_ok", "partial", "latency_ok"} <= set(record.quality)


def test_unregistered_device_is_quarantined(catalog: Catalog) -> None:
    result = make(catalog).process([raw_record(payload({}), device_id="ffffffffffffffff")])
    assert not result.records
    assert [d.reason for d in result.quarantined] == [ReasonCode.UNKNOWN_DEVICE]


@pytest.mark.parametrize(
    ("raw_kwargs", "doc", "reason"),
    [
        ({}, {"dataset": "agri_unknown", "values": {}}, ReasonCode.UNKNOWN_DATASET),
        ({}, {"dataset": "agri_weather", "values": {}}, ReasonCode.NOT_DATASET_PROVIDER),
        (
            {"device_id": "aaaaaaaaaaaaaaaa"},
            {"dataset": "agri_soil", "values": {}},
            ReasonCode.NOT_DATASET_PROVIDER,
        ),
        (
            {},
            {"dataset": "agri_soil", "values": {}, "claimed_device": "0000000000000001"},
            ReasonCode.IDENTITY_MISMATCH,
        ),
        ({}, {"dataset": "agri_soil", "values": {"soil_moisture": 120.0}}, ReasonCode.OUT_OF_RANGE),
        (
            {},
            {"dataset": "agri_soil", "values": {"soil_moisture": float("nan")}},
            ReasonCode.VALUE_NOT_FINITE,
        ),
        (
            {},
            {"dataset": "agri_soil", "values": {"soil_ph": float("inf")}},
            ReasonCode.VALUE_NOT_FINITE,
        ),
        ({}, {"dataset": "agri_soil", "values": {"soil_ph": "seven"}}, ReasonCode.SCHEMA_INVALID),
        ({}, {"dataset": "agri_soil", "values": {"colour": "red"}}, ReasonCode.SCHEMA_INVALID),
        (
            {},
            {"dataset": "agri_soil", "values": {}, "ts_ns": time.time_ns() + 3600 * 10**9},
            ReasonCode.FUTURE_TIMESTAMP,
        ),
    ],
)
def test_refusals(
    catalog: Catalog, raw_kwargs: dict[str, Any], doc: dict[str, object], reason: ReasonCode
) -> None:
    good = raw_record(payload({"soil_moisture": 10.0}))
    bad = raw_record(json.dumps(doc).encode(), **raw_kwargs)
    result = make(catalog).process([good, bad])
    assert [d.reason for d in result.dead_letters] == [reason]
    assert result.dead_letters[0].payload == bad.envelope.payload
    assert result.dead_letters[0].coordinates == {
        "topic": "sensegate.raw.agri",
        "partition": 0,
        "offset": 0,
    }
    assert len(result.records) == 1  # one bad payload never takes its batch down


def test_missing_required_item(catalog: Catalog) -> None:
    registry = FakeRegistry(TestDevice("iiot", "g/e", "jl_industry_dept", ("iiot_metric",)))
    proc = NormalizeProcessor(
        catalog=catalog,
        registry=registry,
        mappers={"iiot": JsonTestMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("x" * 20)}, "k1"),
    )
    doc = {"dataset": "iiot_metric", "values": {"edge_node": "g/e", "datatype": "Double"}}
    result = proc.process([raw_record(json.dumps(doc).encode(), family="iiot", device_id="g/e")])
    assert [d.reason for d in result.dead_letters] == [ReasonCode.MISSING_REQUIRED]
    assert "metric" in result.dead_letters[0].detail


def test_too_old_flagged_or_refused_by_config(catalog: Catalog) -> None:
    old = time.time_ns() - 30 * 86400 * 10**9
    raw = raw_record(payload({"soil_moisture": 1.0}, ts_ns=old))
    flagged = make(catalog).process([raw])
    assert "too_old" in flagged.records[0].quality
    refused = make(catalog, quality=QualityConfig(too_old="reject")).process([raw])
    assert [d.reason for d in refused.dead_letters] == [ReasonCode.TOO_OLD]


def test_late_and_skew_flags(catalog: Catalog) -> None:
    now = time.time_ns()
    late = raw_record(payload({}, ts_ns=now - 600 * 10**9, key="a"), received_ns=now)
    ahead = raw_record(payload({}, ts_ns=now + 2 * 10**9, key="b"), received_ns=now)
    result = make(catalog).process([late, ahead])
    assert "late" in result.records[0].quality
    assert "clock_skew" in result.records[1].quality


def test_out_of_range_can_be_flag_only(catalog: Catalog) -> None:
    raw = raw_record(payload({"soil_moisture": 120.0}))
    result = make(catalog, quality=QualityConfig(out_of_range="flag")).process([raw])
    assert "range_violation" in result.records[0].quality
    assert result.records[0].values["soil_moisture"] == 120.0  # flagged, never altered


def test_duplicates_within_and_across_batches(catalog: Catalog) -> None:
    proc = make(catalog)
    first = raw_record(payload({"soil_moisture": 1.0}, key="5"), offset=1)
    redelivered = raw_record(payload({"soil_moisture": 1.0}, key="5"), offset=2)
    one = proc.process([first, redelivered])
    assert len(one.records) == 1
    assert one.duplicates == 1
    two = proc.process([first])
    assert not two.records
    assert two.duplicates == 1
    proc.forget(one)  # a batch that was not delivered must be redone in full
    assert len(proc.process([first]).records) == 1


def test_record_id_is_deterministic_across_processors(catalog: Catalog) -> None:
    raw = raw_record(payload({"soil_moisture": 1.0}, key="9"))
    a = make(catalog).process([raw]).records[0]
    b = make(catalog).process([raw_record(raw.envelope.payload, offset=99)]).records[0]
    assert a.record_id == b.record_id
    assert a.natural_key == b.natural_key


def test_records_serialize_as_the_dataset_record_model(catalog: Catalog) -> None:
    """Records are built without pydantic; the model reads their JSON and writes the same bytes."""
    raws = [
        raw_record(payload({"soil_moisture": 0.5 + i, "f_cnt": i}, key=str(i)), offset=i)
        for i in range(20)
    ]
    result = make(catalog).process(raws)
    assert len(result.records) == 20
    for record in result.records:
        value = record.to_kafka_value()
        assert DatasetRecord.from_kafka_value(value).to_kafka_value() == value


def test_unreviewed_definition_is_refused(catalog: Catalog) -> None:
    """C14 in the normalizer: a dataset whose loaded definition drifted is dead-lettered."""
    registry = FakeRegistry(TestDevice("agri", SOIL, "jl_agri_bureau", ("agri_soil",)))
    proc = NormalizeProcessor(
        catalog=catalog,
        registry=registry,
        mappers={"agri": JsonTestMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("x" * 20)}, "k1"),
        withheld={"agri_soil": "C14: unreviewed change of agri_soil"},
    )
    result = proc.process([raw_record(payload({"soil_moisture": 1.0}))])
    assert not result.records
    assert [(d.reason, d.detail) for d in result.dead_letters] == [
        (ReasonCode.UNKNOWN_CATALOG_VERSION, "C14: unreviewed change of agri_soil")
    ]
