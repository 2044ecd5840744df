"""Quarantine of unregistered devices: list what waits, approve a device and replay its messages.

The normalizer writes every message of an unregistered device to ``<prefix>quarantine`` as a
DeadLetter with reason ``unknown_device`` (docs/catalog.md §8). Approval registers the device in the
database first (running registries reload on the NOTIFY), waits ``settle_s`` so they have, then
re-produces each quarantined raw envelope byte for byte to ``<prefix>raw.<family>`` and records the
quarantine coordinates it replayed, so a second approval does not replay them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from psycopg import sql

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.families import FAMILIES
from contracts.settings import DbConfig, KafkaConfig
from contracts.topics import quarantine_topic, raw_topic
from processors.dead_letters import StoredLetter, envelope_of, replay_headers
from processors.registry.models import Device
from processors.registry.store import upsert_devices

__all__ = [
    "ApprovalResult",
    "QuarantinedDevice",
    "approve_device",
    "list_quarantined",
    "matches_device",
]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class QuarantinedDevice:
    """Summary of one unregistered device's quarantined messages."""

    family: str
    device_id: str
    messages: int = 0
    distinct: int = 0
    first_received_ns: int = 0
    last_received_ns: int = 0
    topics: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "family": self.family,
            "device_id": self.device_id,
            "messages": self.messages,
            "distinct": self.distinct,
            "first_received_ns": self.first_received_ns,
            "last_received_ns": self.last_received_ns,
            "topics": sorted(self.topics),
        }


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """What an approval did: replayed, already replayed before, and letters without an envelope."""

    device: Device
    replayed: int
    already_replayed: int
    not_replayable: int


def matches_device(envelope: dict[str, Any], family: str, device_id: str) -> bool:
    """Whether a letter's envelope metadata belongs to the device (a Sparkplug node covers its devices)."""
    if envelope.get("family") != family:
        return False
    sender = str(envelope.get("device_id", ""))
    described = FAMILIES.find(family)
    return described.covers(device_id, sender) if described else sender == device_id


async def _positions(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> list[int]:
    return [await consumer.position(tp) for tp in tps]


async def _read_topic(kafka: KafkaConfig, topic: str) -> list[StoredLetter]:
    """Every letter on ``topic`` up to the end offsets seen at start (no group, nothing committed)."""
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        # Subscribing (rather than assigning) lets the client learn the partitions itself.
        consumer.subscribe([topic])
        async with asyncio.timeout(30):
            # aiokafka signals no event for a group-less assignment; poll the cheap local state.
            while not consumer.assignment():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        letters: list[StoredLetter] = []
        while any(
            pos < ends[tp] for tp, pos in zip(tps, await _positions(consumer, tps), strict=True)
        ):
            for tp, msgs in (await consumer.getmany(*tps, timeout_ms=1000)).items():
                letters += [
                    StoredLetter(DeadLetter.from_json(m.value), tp.partition, m.offset)
                    for m in msgs
                    if m.offset < ends[tp] and m.value is not None
                ]
        return letters
    finally:
        await consumer.stop()


async def _unknown_device_letters(kafka: KafkaConfig) -> list[StoredLetter]:
    letters = await _read_topic(kafka, quarantine_topic(kafka.topic_prefix))
    return [s for s in letters if s.letter.reason is ReasonCode.UNKNOWN_DEVICE]


async def list_quarantined(kafka: KafkaConfig) -> list[QuarantinedDevice]:
    """Devices with quarantined messages, most messages first (reads the topic, no group)."""
    found: dict[tuple[str, str], QuarantinedDevice] = {}
    identities: dict[tuple[str, str], set[str]] = {}
    for stored in await _unknown_device_letters(kafka):
        env = stored.letter.envelope
        key = (str(env.get("family", "")), str(env.get("device_id", "")))
        entry = found.setdefault(key, QuarantinedDevice(*key))
        received = int(env.get("received_ns", 0))
        entry.messages += 1
        entry.first_received_ns = min(entry.first_received_ns or received, received)
        entry.last_received_ns = max(entry.last_received_ns, received)
        entry.topics.add(str(env.get("topic", "")))
        identities.setdefault(key, set()).add(stored.letter.source_identity)
    for key, entry in found.items():
        entry.distinct = len(identities[key])
    return sorted(found.values(), key=lambda d: (-d.messages, d.family, d.device_id))


async def _replayed_coordinates(
    conn: psycopg.AsyncConnection[Any], schema: str, topic: str
) -> set[tuple[int, int]]:
    cur = await conn.execute(
        sql.SQL(
            'SELECT partition, "offset" FROM {}.quarantine_replay WHERE quarantine_topic = %s'
        ).format(sql.Identifier(schema)),
        (topic,),
    )
    return {(int(p), int(o)) for p, o in await cur.fetchall()}


async def _record_replayed(
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    topic: str,
    done: Iterable[tuple[StoredLetter, str]],
) -> None:
    stmt = sql.SQL(
        'INSERT INTO {}.quarantine_replay (quarantine_topic, partition, "offset", source_identity,'
        " family, device_id, raw_topic) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING"
    ).format(sql.Identifier(schema))
    rows = [
        (
            topic,
            s.partition,
            s.offset,
            s.letter.source_identity,
            str(s.letter.envelope.get("family", "")),
            str(s.letter.envelope.get("device_id", "")),
            target,
        )
        for s, target in done
    ]
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(stmt, rows)


async def approve_device(
    kafka: KafkaConfig,
    db: DbConfig,
    device: Device,
    *,
    settle_s: float = 1.0,
) -> ApprovalResult:
    """Register ``device`` (already validated by the caller) and replay its quarantined messages."""
    schema = db.schema_name
    topic = quarantine_topic(kafka.topic_prefix)
    async with await psycopg.AsyncConnection.connect(db.dsn.get_secret_value()) as conn:
        await upsert_devices(conn, [device], origin="quarantine", schema=schema)
        await conn.commit()
        done_before = await _replayed_coordinates(conn, schema, topic)
    await asyncio.sleep(settle_s)
    letters = [
        s
        for s in await _unknown_device_letters(kafka)
        if matches_device(s.letter.envelope, device.family, device.device_id)
    ]
    todo = [s for s in letters if (s.partition, s.offset) not in done_before]
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", enable_idempotence=True)
    await producer.start()
    sent: list[tuple[StoredLetter, str]] = []
    not_replayable = 0
    try:
        futures = []
        for stored in todo:
            env = envelope_of(stored.letter)
            if env is None:
                not_replayable += 1
                logger.warning(
                    "quarantined letter %d/%d has no envelope", stored.partition, stored.offset
                )
                continue
            target = raw_topic(kafka.topic_prefix, env.family)
            futures.append(
                await producer.send(
                    target,
                    value=env.payload,
                    key=env.kafka_key(),
                    headers=replay_headers(stored.letter, env),
                )
            )
            sent.append((stored, target))
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    if sent:
        async with await psycopg.AsyncConnection.connect(db.dsn.get_secret_value()) as conn:
            await _record_replayed(conn, schema, topic, sent)
    logger.info(
        "approved %s/%s: replayed %d, %d replayed before, %d without envelope",
        device.family,
        device.device_id,
        len(sent),
        len(letters) - len(todo),
        not_replayable,
    )
    return ApprovalResult(device, len(sent), len(letters) - len(todo), not_replayable)
