"""Helpers of the sharing integration tests: read a topic as some principal, produce as admin."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from contracts.settings import KafkaConfig


async def try_read(config: KafkaConfig, topic: str, *, group: str | None = None) -> int | str:
    """Records readable from ``topic`` from the start, or the name of the error that refused it."""
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **config.client_kwargs(),
    )
    count = 0
    try:
        await asyncio.wait_for(consumer.start(), 20)
        for _ in range(6):
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=700), 10)
            got = sum(len(v) for v in batch.values())
            count += got
            if count and not got:
                break
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        await consumer.stop()
    return count


async def read_all(config: KafkaConfig, topic: str) -> list[bytes]:
    """Every value of ``topic`` (read as ``config``, normally the admin)."""
    consumer = AIOKafkaConsumer(
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **config.client_kwargs(),
    )
    values: list[bytes] = []
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                values += [m.value or b"" for m in messages]
            positions = {tp: await consumer.position(tp) for tp in consumer.assignment()}
            ends = await consumer.end_offsets(list(positions))
            if positions and not batch and all(positions[tp] >= ends[tp] for tp in positions):
                break
    finally:
        await consumer.stop()
    return values


async def produce(config: KafkaConfig, topic: str, items: Sequence[tuple[bytes, bytes]]) -> None:
    """Produce (key, value) pairs and wait for every ack."""
    producer = AIOKafkaProducer(acks="all", **config.client_kwargs())
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
