"""Quarantine approval against real Kafka and PostgreSQL: register, replay once, byte for byte."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg import sql

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.envelope import Envelope
from contracts.settings import DbConfig, KafkaConfig
from contracts.topics import quarantine_topic, raw_topic
from processors.registry import Device, fetch_devices
from processors.registry.quarantine import approve_device, list_quarantined, matches_device
from runtime.kafka_client import config_for
from tests.fixtures.services import StackAddresses


@pytest.fixture
def schema(stack: StackAddresses, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("qr")
    yield name
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def envelope(device_id: str, n: int, family: str = "agri") -> Envelope:
    return Envelope(
        payload=bytes([n, 0, 255]) + device_id.encode(),
        topic=f"application/app/device/{device_id}/event/up",
        family=family,
        device_id=device_id,
        received_ns=time.time_ns() + n,
        gateway_id="gw-test",
        user_properties=(("k", str(n)),),
    )


def letter(env: Envelope, reason: ReasonCode = ReasonCode.UNKNOWN_DEVICE) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail=f"device {env.device_id} is not registered",
        stage=Stage.NORMALIZE,
        payload=env.payload,
        envelope=env.metadata(),
    )


async def read_all(kafka: KafkaConfig, topic: str, expected: int) -> list[Envelope]:
    consumer = AIOKafkaConsumer(topic, **kafka.client_kwargs(), auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        assert sum(ends.values()) == expected
        await consumer.seek_to_beginning(*tps)
        out: list[Envelope] = []
        async with asyncio.timeout(30):
            while len(out) < expected:
                for msgs in (await consumer.getmany(timeout_ms=1000)).values():
                    out += [Envelope.from_kafka(m.value, m.headers) for m in msgs]
        return out
    finally:
        await consumer.stop()


def test_matches_device() -> None:
    assert matches_device({"family": "iiot", "device_id": "G/E/d1"}, "iiot", "G/E")
    assert not matches_device({"family": "iiot", "device_id": "G/E2/d1"}, "iiot", "G/E")
    assert not matches_device({"family": "agri", "device_id": "x"}, "v2x", "x")


async def test_approve_replays_quarantined_messages_once(
    stack: StackAddresses, schema: str, unique_name: Callable[[str], str]
) -> None:
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=unique_name("q") + "."
    )
    db = DbConfig(dsn=stack.pg_dsn, schema_name=schema)
    target = "ae00000000000001"
    mine = [envelope(target, n) for n in range(3)]
    other = envelope("ae00000000000002", 9)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    try:
        qtopic = quarantine_topic(kafka.topic_prefix)
        for env in [*mine, other]:
            dl = letter(env)
            await producer.send_and_wait(
                qtopic, dl.to_json(), key=dl.kafka_key(), headers=dl.kafka_headers()
            )
        # Same device, other reason: not a quarantine case, never replayed by approval.
        dl = letter(envelope(target, 7), ReasonCode.DECODE_ERROR)
        await producer.send_and_wait(qtopic, dl.to_json(), key=dl.kafka_key())
    finally:
        await producer.stop()

    waiting = {(q.family, q.device_id): q for q in await list_quarantined(kafka)}
    assert waiting[("agri", target)].messages == 3
    assert waiting[("agri", target)].distinct == 3
    assert waiting[("agri", "ae00000000000002")].messages == 1

    device = Device(
        family="agri", device_id=target, provider="jl_agri_bureau", datasets=("agri_soil",)
    )
    result = await approve_device(kafka, db, device, settle_s=0)
    assert (result.replayed, result.already_replayed, result.not_replayable) == (3, 0, 0)
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        assert device in await fetch_devices(conn, schema)

    replayed = await read_all(kafka, raw_topic(kafka.topic_prefix, "agri"), expected=3)
    assert sorted(replayed, key=lambda e: e.received_ns) == mine  # byte for byte, metadata kept

    again = await approve_device(kafka, db, device, settle_s=0)
    assert (again.replayed, again.already_replayed) == (0, 3)
    assert len(await read_all(kafka, raw_topic(kafka.topic_prefix, "agri"), expected=3)) == 3
