from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.record import DatasetRecord, record_id_for
from processors.share.deidentify import RotatingKeyring, grid_cell
from processors.share.processor import Output, ShareProcessor
from processors.share.rules import OpenRecord, open_microdata, release_problems
from tests.fixtures.share_data import participant_records, share_catalog, simple_record

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
RING = RotatingKeyring({"m": SecretStr("k" * 32)}, "m")


def _run(processor: ShareProcessor, records: list[bytes], topic: str) -> list[Output]:
    out: list[Output] = []
    for offset, value in enumerate(records):
        out += processor.process(value, (topic, 0), offset)
    out += processor.tick(T0)
    out += processor.drain()
    return out


def test_participants_share_rekeyed_and_open_only_as_k_aggregates() -> None:
    processor = ShareProcessor(share_catalog(), RING)
    rows = participant_records(T0, vehicles=30, steps=20)
    out = _run(processor, [r.to_kafka_value() for r in rows], "sensegate.data.v2x_participant")
    topics = {o.topic for o in out}
    assert "sensegate.open.v2x_participant" not in topics
    shared = [json.loads(o.value) for o in out if o.topic == "sensegate.share.v2x_participant"]
    assert len(shared) == len(rows)
    clear = {r.values["ptc_id"] for r in rows}
    assert all(s["values"]["ptc_id"] not in clear for s in shared)
    assert all(s["entity_id"] not in clear for s in shared)
    assert all(s["provenance"]["pseudonym_key_id"].startswith("m:share:") for s in shared)
    opened = [
        OpenRecord.model_validate_json(o.value)
        for o in out
        if o.topic == "sensegate.open.v2x_participant_flow"
    ]
    assert opened, "the dense cells must be released"
    for rec in opened:
        entities = rec.values["entities"]
        assert isinstance(entities, int) and entities >= 10
        assert rec.cell is not None and rec.cell.size_m == 1000
        assert grid_cell(rec.cell.lat, rec.cell.lon, 1000).cell_id == rec.cell.id
        assert rec.period_s == 300 and rec.rule_set.startswith("v2x_participant_flow.deid.")
        assert set(rec.values) <= {"ptc_type", "records", "entities", "mean_speed"}
    assert processor.stats.suppressed >= 1  # the three outlying vehicles
    assert all(
        o.key == json.loads(o.value)["record_id"].encode()
        for o in out
        if "dlq" not in o.topic and ".data." not in o.topic
    )
    # the derived entry's own data tier (its table, via the sink): exactly the released cells
    stored = [
        DatasetRecord.from_kafka_value(o.value)
        for o in out
        if o.topic == "sensegate.data.v2x_participant_flow"
    ]
    assert sorted(r.record_id for r in stored) == sorted(r.record_id for r in opened)
    for row in stored:
        assert row.dataset == "v2x_participant_flow" and row.provenance.codec == "aggregate"
        assert record_id_for(row.dataset, row.natural_key) == row.record_id
        count = row.values["entities"]
        assert isinstance(count, int) and count >= 10


def test_non_shared_dataset_reaches_no_share_or_open_topic() -> None:
    processor = ShareProcessor(share_catalog(), RING)
    rec = simple_record(
        "iiot_metric",
        {"edge_node": "plant/line1", "metric": "temp", "datatype": "Double", "value_double": 1.0},
        when=T0,
        entity="plant/line1",
    )
    assert "sensegate.data.iiot_metric" not in processor.source_topics
    assert processor.process(rec.to_kafka_value(), ("sensegate.data.iiot_metric", 0), 0) == []


def test_agri_open_microdata_generalised() -> None:
    entry = share_catalog().get("agri_soil")
    assert entry is not None
    rec = simple_record(
        "agri_soil",
        {"soil_moisture": 31.2, "battery": 3.6, "f_cnt": 9},
        when=T0 + timedelta(minutes=7, seconds=13, milliseconds=5),
        entity="a84041000181c061",
        location=(43.8123456, 125.2987654),
    )
    opened = open_microdata(rec, entry, RING)
    assert opened.period_start == T0 and opened.period_s == 900
    assert opened.cell is not None and opened.cell.size_m == 1000
    assert "a84041000181c061" not in opened.model_dump_json()
    assert release_problems(opened, entry, None) == []


def test_release_guard_blocks_identifiers_and_fine_positions() -> None:
    entry = share_catalog().get("agri_soil")
    assert entry is not None
    bad = OpenRecord(
        record_id="x",
        dataset="agri_soil",
        source_dataset="agri_soil",
        catalog_version=1,
        rule_set="r",
        rule_version=1,
        kind="microdata",
        period_start=T0,
        period_s=60,
        values={"lat": 43.8123456, "plate_no": "吉A12345"},
    )
    problems = release_problems(bad, entry, None)
    assert any("plate" in p for p in problems)
    assert any("lat" in p for p in problems)
    assert any("bucket" in p for p in problems)


def test_invalid_input_becomes_dead_letter() -> None:
    processor = ShareProcessor(share_catalog(), RING)
    (out,) = processor.process(b"{not json", ("sensegate.data.agri_soil", 1), 5)
    assert out.topic == "sensegate.dlq"
    assert DeadLetter.from_json(out.value).reason is ReasonCode.SCHEMA_INVALID


def test_windows_hold_offsets_until_released() -> None:
    processor = ShareProcessor(share_catalog(), RING, max_delay=timedelta(days=3650))
    rows = participant_records(T0, vehicles=12, steps=2)
    for offset, r in enumerate(rows):
        processor.process(r.to_kafka_value(), ("sensegate.data.v2x_participant", 0), offset)
    assert processor.held_offsets() == {("sensegate.data.v2x_participant", 0): 0}
    processor.drain()
    assert processor.held_offsets() == {}


def test_road_event_position_released_as_is_with_the_shipped_catalog() -> None:
    # A road event's position describes the road, not a person: the shipped catalog gives lat/lon
    # no location sensitivity, so the open tier keeps it and the release guard must not block it.
    from processors.catalog import load_catalog

    entry = load_catalog().get("v2x_road_event")
    assert entry is not None
    rec = simple_record(
        "v2x_road_event",
        {"rsu_id": "RSU00001", "kind": "event", "event_type": 100, "lat": 43.8123456, "lon": 125.2987654},
        when=T0,
        entity="RSU00001",
        location=(43.8123456, 125.2987654),
    )
    opened = open_microdata(rec, entry, RING)
    assert opened.values["lat"] == 43.8123456
    assert release_problems(opened, entry, None) == []
