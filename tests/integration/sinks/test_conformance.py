"""Sink conformance suite (style rule 21) for the TimescaleSink against the real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.record import DatasetRecord
from processors.catalog import Catalog
from processors.provenance.verify import verify_store
from processors.sinks.base import SinkInput
from processors.sinks.config import ProvenanceConfig, SinkConfig
from processors.sinks.timescale import TimescaleSink, connect
from tests.fixtures.records import soil_record, soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import count_rows

PREFIX = "t."
TOPIC = "t.data.agri_soil"


class Letters(list[DeadLetter]):
    """Collects dead letters handed over by a sink."""

    async def __call__(self, batch: Sequence[DeadLetter]) -> None:
        self.extend(batch)


def _sink(
    stack: StackAddresses,
    schema: str,
    catalog: Catalog,
    prov: ProvenanceConfig,
    letters: Letters,
    *,
    app: str = "sensegate-sink-test",
) -> TimescaleSink:
    return TimescaleSink(
        dsn=stack.pg_dsn, schema=schema, catalog=catalog, group_id="g", topic_prefix=PREFIX,
        dead_letters=letters, provenance=prov, application_name=app,
        config=SinkConfig(retry_initial_s=0.05, retry_max_s=0.2, retry_attempts=20),
    )  # fmt: skip


def _add(
    sink: TimescaleSink,
    records: Sequence[DatasetRecord],
    partition: int = 0,
    first: int = 0,
    topic: str = TOPIC,
) -> None:
    for i, r in enumerate(records):
        sink.add(SinkInput(topic, partition, first + i, r.to_kafka_value(), r.kafka_key()))


def _offsets(stack: StackAddresses, schema: str) -> dict[tuple[str, int], int]:
    with psycopg.connect(stack.pg_dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT topic, partition, next_offset FROM {}").format(
                sql.Identifier(schema, "ingest_offset")
            )
        ).fetchall()
    return {(t, p): o for t, p, o in rows}


async def test_open_and_close_are_idempotent(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    sink = _sink(stack, pg_schema, catalog, provenance_config, Letters())
    async with sink:
        result = await sink.flush()
    await sink.close()
    assert result.stored == 0


async def test_single_batch(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    letters = Letters()
    async with _sink(stack, pg_schema, catalog, provenance_config, letters) as sink:
        _add(sink, list(soil_records(50)))
        result = await sink.flush()
    assert (result.stored, result.duplicates, len(letters)) == (50, 0, 0)
    assert count_rows(stack.pg_dsn, pg_schema) == (50, 50)
    assert _offsets(stack, pg_schema) == {(TOPIC, 0): 50}


async def test_parallel_batches(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    records = list(soil_records(200, devices=8))
    sinks = [_sink(stack, pg_schema, catalog, provenance_config, Letters()) for _ in range(2)]
    async with sinks[0] as a, sinks[1] as b:
        _add(a, records[:100], partition=0)
        _add(b, records[100:], partition=1)
        ra, rb = await asyncio.gather(a.flush(), b.flush())
    assert ra.stored + rb.stored == 200
    assert count_rows(stack.pg_dsn, pg_schema) == (200, 200)
    assert _offsets(stack, pg_schema) == {(TOPIC, 0): 100, (TOPIC, 1): 100}


async def test_retry_after_transient_error(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    unique_name: object,
) -> None:
    app = f"sink-retry-{pg_schema}"[:60]
    async with _sink(stack, pg_schema, catalog, provenance_config, Letters(), app=app) as sink:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (app,),
            ).fetchall()
        assert killed == [(True,)]
        _add(sink, list(soil_records(30)))
        result = await sink.flush()
    assert result.retries >= 1
    assert result.stored == 30
    assert count_rows(stack.pg_dsn, pg_schema) == (30, 30)


async def test_duplicate_batch_is_a_no_op(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    records = list(soil_records(40))
    async with _sink(stack, pg_schema, catalog, provenance_config, Letters()) as sink:
        _add(sink, records)
        first = await sink.flush()
        _add(sink, records)  # the same offsets again: replay after an unknown commit outcome
        replay = await sink.flush()
        _add(sink, records, first=40)  # the same records at new offsets: an upstream duplicate
        again = await sink.flush()
    assert first.stored == 40
    assert (replay.stored, replay.skipped) == (0, 40)
    assert (again.stored, again.duplicates) == (0, 40)
    assert count_rows(stack.pg_dsn, pg_schema) == (40, 40)
    assert _offsets(stack, pg_schema) == {(TOPIC, 0): 80}


async def test_bad_rows_are_dead_lettered_without_blocking_the_batch(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        # A database-side rule the Python checks do not know: the error comes from PostgreSQL.
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT moisture_sane CHECK (soil_moisture < 1000)"
            ).format(sql.Identifier(pg_schema, "agri_soil"))
        )
    letters = Letters()
    good = list(soil_records(20))
    in_db_bad = soil_record(500, moisture=5000.0)
    typed_bad = soil_record(501, extra={"battery": "high"})
    old_version = soil_record(502, catalog_version=99)
    async with _sink(stack, pg_schema, catalog, provenance_config, letters) as sink:
        _add(sink, [*good[:10], in_db_bad, typed_bad, old_version, *good[10:]])
        sink.add(SinkInput("t.data.no_such_dataset", 0, 0, good[0].to_kafka_value()))
        result = await sink.flush()
    assert result.stored == 20
    assert count_rows(stack.pg_dsn, pg_schema) == (20, 20)
    reasons = sorted(d.reason.value for d in letters)
    assert reasons == sorted([
        ReasonCode.DATA_REJECTED.value, ReasonCode.DATA_REJECTED.value,
        ReasonCode.UNKNOWN_CATALOG_VERSION.value, ReasonCode.UNKNOWN_DATASET.value,
    ])  # fmt: skip
    assert any("23514" in d.detail for d in letters)
    assert _offsets(stack, pg_schema)[(TOPIC, 0)] == 23


@pytest.mark.parametrize("devices", [1, 5])
async def test_log_has_one_leaf_per_new_row(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    devices: int,
) -> None:
    records = list(soil_records(25, devices=devices))
    async with _sink(stack, pg_schema, catalog, provenance_config, Letters()) as sink:
        _add(sink, records)
        await sink.flush()
        _add(sink, records, first=25)
        await sink.flush()
    with psycopg.connect(stack.pg_dsn) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*), count(DISTINCT source) FROM {}").format(
                sql.Identifier(pg_schema, "tlog_leaf")
            )
        ).fetchone()
    assert row == (50, devices)


async def test_partly_stored_batch_stores_and_logs_only_new_rows(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    # The direct COPY meets existing keys and an in-batch duplicate, so the batch must fall back
    # to the conflict-resolving path and still log each new row exactly once.
    records = list(soil_records(30, devices=3))
    async with _sink(stack, pg_schema, catalog, provenance_config, Letters()) as sink:
        _add(sink, records[:10])
        first = await sink.flush()
        _add(sink, [*records[5:20], records[15]], first=10)
        mixed = await sink.flush()
        _add(sink, records[20:], first=26)
        fresh = await sink.flush()
        await sink.checkpoint()
    assert (first.stored, mixed.stored, mixed.duplicates, fresh.stored) == (10, 10, 6, 10)
    assert count_rows(stack.pg_dsn, pg_schema) == (30, 30)
    conn = await connect(stack.pg_dsn, pg_schema, "verify-test")
    async with conn:
        report = await verify_store(conn, catalog, [], now=datetime.now(UTC))
    assert report.ok, report.findings
    assert report.leaves == 60
