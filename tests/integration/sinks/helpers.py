"""Helpers of the sink integration tests: settings, producing records, waiting for rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg import sql
from pydantic import SecretStr

from contracts.dead_letter import DeadLetter
from contracts.record import DatasetRecord
from contracts.settings import DbConfig
from processors.catalog import Catalog
from processors.sinks.config import ProvenanceConfig, SinkConfig, SinkSettings
from processors.sinks.service import SinkService
from runtime.kafka_client import client_kwargs, config_for


def sink_settings(
    *,
    bootstrap: str,
    dsn: str,
    schema: str,
    prefix: str,
    group: str,
    seed: str,
    batch: int = 500,
) -> SinkSettings:
    """Settings of a test sink: fast batches, short sessions, quick pattern refresh."""
    return SinkSettings(
        kafka=config_for(bootstrap, topic_prefix=prefix),
        db=DbConfig(dsn=SecretStr(dsn), schema_name=schema),
        sink=SinkConfig(
            group_id=group, batch_max_records=batch, batch_timeout_ms=100,
            session_timeout_ms=6000, metadata_max_age_ms=1000, migrate_on_start=False,
            retry_initial_s=0.1, retry_max_s=1.0,
        ),
        provenance=ProvenanceConfig(signing_key=SecretStr(seed), checkpoint_every_leaves=2000),
    )  # fmt: skip


def sink_env(settings: SinkSettings) -> dict[str, str]:
    """The same settings as environment variables, for a sink subprocess."""
    assert settings.provenance.signing_key is not None
    s = settings.sink
    return {
        "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "SENSEGATE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "SENSEGATE_DB__DSN": settings.db.dsn.get_secret_value(),
        "SENSEGATE_DB__SCHEMA_NAME": settings.db.schema_name,
        "SENSEGATE_SINK__GROUP_ID": s.group_id,
        "SENSEGATE_SINK__BATCH_MAX_RECORDS": str(s.batch_max_records),
        "SENSEGATE_SINK__BATCH_TIMEOUT_MS": str(s.batch_timeout_ms),
        "SENSEGATE_SINK__SESSION_TIMEOUT_MS": str(s.session_timeout_ms),
        "SENSEGATE_SINK__METADATA_MAX_AGE_MS": str(s.metadata_max_age_ms),
        "SENSEGATE_PROVENANCE__SIGNING_KEY": settings.provenance.signing_key.get_secret_value(),
    }


async def produce(bootstrap: str, prefix: str, records: Sequence[DatasetRecord]) -> None:
    """Send records to their data topics and wait for every acknowledgement."""
    producer = AIOKafkaProducer(**client_kwargs(bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(f"{prefix}data.{r.dataset}", r.to_kafka_value(), key=r.kafka_key())
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def count_rows(dsn: str, schema: str, table: str = "agri_soil") -> tuple[int, int]:
    """(rows, distinct record ids) of a dataset table."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*), count(DISTINCT record_id) FROM {}").format(
                sql.Identifier(schema, table)
            )
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def wait_until(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, limit_s: float = 60.0
) -> None:
    """Poll ``check`` until it holds; fails the test after ``limit_s`` (a safety bound only)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > deadline:
            msg = f"condition not reached within {limit_s}s"
            raise AssertionError(msg)
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_sink(settings: SinkSettings, catalog: Catalog) -> AsyncIterator[SinkService]:
    """A SinkService consuming in the background of this loop until the block ends."""
    service = SinkService(settings, catalog)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield service
    finally:
        stop.set()
        await task


async def read_dead_letters(bootstrap: str, prefix: str) -> list[DeadLetter]:
    """The dead letters on ``<prefix>dlq`` so far (one poll of up to 5 s)."""
    consumer = AIOKafkaConsumer(
        f"{prefix}dlq", **client_kwargs(bootstrap), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    return [DeadLetter.from_json(m.value or b"") for ms in batch.values() for m in ms]
