"""The sink service against the real Kafka and PostgreSQL: end to end, and a rebalance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from contracts.dead_letter import DeadLetter, ReasonCode
from processors.catalog import Catalog
from processors.provenance.verify import verify_store
from processors.sinks.service import SinkService
from processors.sinks.timescale import connect
from runtime.kafka_client import client_kwargs
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import count_rows, produce, sink_settings, wait_until


async def _dead_letters(bootstrap: str, topic: str, expected: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(topic, **client_kwargs(bootstrap), auto_offset_reset="earliest")
    await consumer.start()
    letters: list[DeadLetter] = []
    try:

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            letters.extend(DeadLetter.from_json(m.value) for ms in batch.values() for m in ms)
            return len(letters) >= expected

        await wait_until(enough, limit_s=30)
    finally:
        await consumer.stop()
    return letters


async def test_end_to_end_with_dead_letters(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    prefix = unique_name("p") + "."
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=unique_name("g"), seed=signing_seed,
    )  # fmt: skip
    records = list(soil_records(300))
    await produce(stack.kafka_bootstrap, prefix, records)
    stray = records[0].model_copy(update={"dataset": "not_catalogued"})
    await produce(stack.kafka_bootstrap, prefix, [stray])
    service = SinkService(settings, catalog)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema) == (300, 300))
        letters = await _dead_letters(stack.kafka_bootstrap, f"{prefix}dlq", 1)
    finally:
        stop.set()
        await task
    assert [d.reason for d in letters] == [ReasonCode.UNKNOWN_DATASET]
    assert letters[0].stage.value == "sink"
    assert count_rows(stack.pg_dsn, pg_schema) == (300, 300)
    conn = await connect(stack.pg_dsn, pg_schema, "test-verify")
    async with conn:
        report = await verify_store(conn, catalog, [], now=datetime.now(UTC))
    assert report.ok, [str(f) for f in report.findings]
    assert report.leaves == 600


async def test_two_sinks_rebalance_store_everything_once(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    prefix = unique_name("p") + "."
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=unique_name("g"), seed=signing_seed, batch=50,
    )  # fmt: skip
    first, second = (
        list(soil_records(600, devices=12)),
        list(soil_records(600, start=600, devices=12)),
    )
    await produce(stack.kafka_bootstrap, prefix, first)
    a, b = SinkService(settings, catalog), SinkService(settings, catalog)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    try:
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] > 0)
        task_b = asyncio.create_task(b.run(stop_b))
        try:
            await wait_until(lambda: bool(b.consumer.assignment()))
            await produce(stack.kafka_bootstrap, prefix, second)
            await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= 1200)
        finally:
            stop_b.set()
            await task_b
    finally:
        stop_a.set()
        await task_a
    assert count_rows(stack.pg_dsn, pg_schema) == (1200, 1200)
    assert a.stored + b.stored == 1200
    assert b.stored > 0
    conn = await connect(stack.pg_dsn, pg_schema, "test-verify")
    async with conn:
        report = await verify_store(conn, catalog, [], now=datetime.now(UTC))
    assert report.ok, [str(f) for f in report.findings]
