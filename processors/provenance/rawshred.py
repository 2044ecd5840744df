"""Shredding the raw copies of an erased subject: destroy the gateway's raw epoch keys that sealed them.

The gateway seals each raw payload of a personal-data family under the key of its (device, epoch)
(``gateway.sealing``). ``erase-subject`` marks, in its transaction, the keys of every epoch that
carried one of the subject's stored messages (``request_raw_shred``); ``shred_raw`` destroys a
marked key once it is safe: its epoch ended at least ``grace_s`` ago (the gateway no longer seals
with it, retries included) and the normalizer's consumer group has read its raw topic to the end.
Destroying a key also shreds the other subjects' raw copies of that device and epoch: acceptable
only because normalize has turned them into sealed records already (docs/provenance.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from psycopg import AsyncConnection, sql

from contracts.settings import KafkaConfig
from contracts.topics import raw_topic
from processors.catalog import DatasetEntry

__all__ = ["ShredReport", "normalize_lag", "request_raw_shred", "shred_raw"]

logger = logging.getLogger(__name__)


async def request_raw_shred(
    conn: AsyncConnection[Any],
    entry: DatasetEntry,
    subject_column: str,
    subject: str,
    *,
    legal_basis: str,
    now: datetime,
) -> int:
    """Mark the raw keys of the epochs that carried the subject's stored rows; returns how many."""
    cur = await conn.execute(
        sql.SQL(
            "UPDATE raw_epoch_key AS k SET shred_requested_at = %s, legal_basis = %s "
            "WHERE k.family = %s AND k.data_key IS NOT NULL AND k.shred_requested_at IS NULL "
            "AND EXISTS (SELECT 1 FROM {} AS t JOIN provenance AS p "
            "ON p.provenance_id = t.provenance_id WHERE t.{} = %s AND p.device_id = k.device_id "
            "AND p.received_ns >= k.epoch_start_ns AND p.received_ns < k.epoch_end_ns)"
        ).format(sql.Identifier(entry.storage_table), sql.Identifier(subject_column)),
        (now, legal_basis, entry.family, subject),
    )
    return cur.rowcount


@dataclass
class ShredReport:
    """What ``shred_raw`` did: keys destroyed, and marked keys left for later with why."""

    destroyed: list[str] = field(default_factory=list)
    epoch_open: list[str] = field(default_factory=list)
    not_normalized: list[str] = field(default_factory=list)


async def normalize_lag(kafka: KafkaConfig, group: str, topics: list[str]) -> dict[str, int | None]:
    """Records of each topic the normalizer's group has not committed yet (None: unknown)."""
    kwargs = kafka.client_kwargs()
    admin = AIOKafkaAdminClient(**kwargs)
    consumer = AIOKafkaConsumer(**kwargs, group_id=None, enable_auto_commit=False)
    lag: dict[str, int | None] = dict.fromkeys(topics)
    try:
        await admin.start()
        await consumer.start()
        committed = await admin.list_consumer_group_offsets(group)
        for described in await admin.describe_topics(topics):
            topic, parts = described["topic"], described["partitions"]
            if described["error_code"] or not parts:
                continue  # unknown topic: lag unknown, nothing is destroyed
            tps = [TopicPartition(topic, p["partition"]) for p in parts]
            ends = await consumer.end_offsets(tps)
            behind = 0
            for tp in tps:
                done = committed.get(tp)
                behind += ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
            lag[topic] = behind
    except KafkaError as exc:
        logger.warning("normalizer lag unknown (%s): raw keys stay marked", exc)
    finally:
        await consumer.stop()
        await admin.close()
    return lag


async def shred_raw(
    conn: AsyncConnection[Any],
    kafka: KafkaConfig,
    *,
    normalize_group: str,
    grace_s: float,
    now: datetime,
) -> ShredReport:
    """Destroy the marked raw keys whose epoch is closed and whose raw topic is normalized."""
    cur = await conn.execute(
        "SELECT key_id, family, device_id, epoch_end_ns FROM raw_epoch_key "
        "WHERE shred_requested_at IS NOT NULL AND data_key IS NOT NULL ORDER BY key_id"
    )
    marked = await cur.fetchall()
    report = ShredReport()
    horizon_ns = int(now.timestamp() * 1e9) - int(grace_s * 1e9)
    closed: list[tuple[str, str]] = []
    for kid, family, _device, end_ns in marked:
        if end_ns <= horizon_ns:
            closed.append((kid, family))
        else:
            report.epoch_open.append(kid)
    if not closed:
        return report
    topics = sorted({raw_topic(kafka.topic_prefix, family) for _, family in closed})
    lag = await normalize_lag(kafka, normalize_group, topics)
    ready: list[str] = []
    for kid, family in closed:
        behind = lag.get(raw_topic(kafka.topic_prefix, family))
        (ready if behind == 0 else report.not_normalized).append(kid)
    if ready:
        async with conn.transaction():
            await conn.execute(
                "UPDATE raw_epoch_key SET data_key = NULL, destroyed_at = %s "
                "WHERE key_id = ANY(%s) AND data_key IS NOT NULL",
                (now, ready),
            )
        report.destroyed = ready
    return report
