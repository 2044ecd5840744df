"""F-alarm: records deleted from Kafka before the sink read them are dead-lettered as offset_gap.

Retention is simulated with the broker's own DeleteRecords (what retention does to old segments):
the sink stops, more records arrive and are deleted, then the sink restarts. Before this alarm the
sink jumped over the hole without a word (``new = max(previous, top + 1)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from contracts.dead_letter import ReasonCode
from processors.catalog import Catalog
from processors.sinks.gaps import GAP_RECORDS
from processors.sinks.service import SinkService
from runtime.kafka_client import client_kwargs
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import (
    count_rows,
    produce,
    read_dead_letters,
    sink_settings,
    wait_until,
)


async def _run_until(service: SinkService, check: Callable[[], bool]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_until(check, limit_s=90)
    finally:
        stop.set()
        await task


async def _delete_all(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(topic, **client_kwargs(bootstrap))
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(parts)
        starts = await consumer.beginning_offsets(parts)
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap))
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(ends[tp]) for tp in parts})
    finally:
        await admin.close()
    return sum(ends[tp] - starts[tp] for tp in parts)


async def test_deleted_records_become_offset_gap_dead_letters(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    """100 stored, 100 deleted unread, 50 after: 150 rows and offset_gap letters spanning 100."""
    prefix = unique_name("p") + "."
    topic = f"{prefix}data.agri_soil"
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=unique_name("g"), seed=signing_seed,
    )  # fmt: skip
    await produce(stack.kafka_bootstrap, prefix, list(soil_records(100)))
    await _run_until(
        SinkService(settings, catalog), lambda: count_rows(stack.pg_dsn, pg_schema) == (100, 100)
    )
    await produce(stack.kafka_bootstrap, prefix, list(soil_records(100, start=100)))
    assert await _delete_all(stack.kafka_bootstrap, topic) == 200  # 100 read, 100 never read
    await produce(stack.kafka_bootstrap, prefix, list(soil_records(50, start=200)))
    before = GAP_RECORDS.labels(topic)._value.get()
    await _run_until(
        SinkService(settings, catalog), lambda: count_rows(stack.pg_dsn, pg_schema) == (150, 150)
    )
    assert GAP_RECORDS.labels(topic)._value.get() - before == 100
    letters = await read_dead_letters(stack.kafka_bootstrap, prefix)
    assert letters
    assert {d.reason for d in letters} == {ReasonCode.OFFSET_GAP}
    assert sum(d.coordinates["last_missing"] - d.coordinates["first_missing"] + 1
               for d in letters if d.coordinates) == 100  # fmt: skip
