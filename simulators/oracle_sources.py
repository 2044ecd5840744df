"""Readers the oracle compares the outcome log with: raw topics, DLQ/quarantine, the database.

Each reader reads a snapshot: Kafka topics from the earliest offset up to the end offsets taken when
reading starts; the database in one query per dataset table (``stored_rows``, the only place that
knows the storage layout).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql

from contracts.dead_letter import DeadLetter
from runtime.kafka_client import client_kwargs

__all__ = [
    "read_dead_letter_reasons",
    "read_dead_letters",
    "read_raw_counts",
    "read_stored_rows",
    "read_stored_values",
    "stored_rows",
]

logger = logging.getLogger(__name__)


async def _scan(
    bootstrap: str, topic: str, timeout_s: float
) -> list[tuple[bytes | None, list[tuple[str, bytes]]]]:
    """Every record of ``topic`` (value, headers) up to the end offsets seen at the start."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(bootstrap), enable_auto_commit=False, group_id=None
    )
    await asyncio.wait_for(consumer.start(), timeout_s)
    out: list[tuple[bytes | None, list[tuple[str, bytes]]]] = []
    try:
        # the public partitions_for_topic only knows assigned topics; ask the cluster directly
        metadata = await asyncio.wait_for(consumer._client.fetch_all_metadata(), timeout_s)  # noqa: SLF001
        ids = metadata.partitions_for_topic(topic)
        if not ids:
            return out
        tps = [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset < end[tp]:
                        out.append((rec.value, list(rec.headers or ())))
                if records and records[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        if remaining:
            logger.warning("timed out reading %s; %d partitions incomplete", topic, len(remaining))
    finally:
        await consumer.stop()
    return out


async def read_raw_counts(
    bootstrap: str, topics: Iterable[str], timeout_s: float = 60.0
) -> Counter[str]:
    """Copies per payload SHA-256 on the raw topics (from the envelope header, else the value)."""
    counts: Counter[str] = Counter()
    for topic in topics:
        for value, headers in await _scan(bootstrap, topic, timeout_s):
            h = dict(headers)
            sha = h.get("sg.sha256", b"").decode() or hashlib.sha256(value or b"").hexdigest()
            counts[sha] += 1
    return counts


async def read_dead_letters(
    bootstrap: str, topics: Iterable[str], timeout_s: float = 60.0
) -> Counter[str]:
    """Dead letters per original payload SHA-256, counted once per distinct source identity."""
    counts, _ = await read_dead_letter_reasons(bootstrap, topics, timeout_s)
    return counts


async def read_dead_letter_reasons(
    bootstrap: str, topics: Iterable[str], timeout_s: float = 60.0
) -> tuple[Counter[str], dict[str, frozenset[str]]]:
    """As ``read_dead_letters``, plus the reason codes seen per payload SHA-256."""
    identities: dict[str, set[str]] = {}
    reasons: dict[str, set[str]] = {}
    for topic in topics:
        for value, _ in await _scan(bootstrap, topic, timeout_s):
            if not value:
                continue
            try:
                letter = DeadLetter.from_json(value)
            except (ValueError, KeyError, TypeError):
                logger.warning("skipping a record of %s that is not a dead letter", topic)
                continue
            # the gateway may keep only a prefix of an oversized payload; the envelope has the full hash
            sha = str(letter.envelope.get("sha256") or hashlib.sha256(letter.payload).hexdigest())
            identities.setdefault(sha, set()).add(letter.source_identity)
            reasons.setdefault(sha, set()).add(letter.reason.value)
    counts = Counter({sha: len(ids) for sha, ids in identities.items()})
    return counts, {sha: frozenset(r) for sha, r in reasons.items()}


def stored_rows(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(raw_sha256, record_id) of every row of ``schema.table``, through its provenance row.

    The storage layout (processors/storage): each data row has ``provenance_id`` referencing
    ``<schema>.provenance(provenance_id)``, which holds ``raw_sha256`` of the exact payload.
    """
    query = sql.SQL(
        "SELECT p.raw_sha256, d.record_id FROM {schema}.{table} AS d "
        "JOIN {schema}.provenance AS p ON p.provenance_id = d.provenance_id"
    ).format(schema=sql.Identifier(schema), table=sql.Identifier(table))
    with conn.cursor() as cur:
        cur.execute(query)
        return [(str(sha), str(rid)) for sha, rid in cur.fetchall()]


def read_stored_rows(
    dsn: str, schema: str, tables: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """Rows per dataset code for ``tables`` (dataset -> table); a missing table reads as empty."""
    out: dict[str, list[tuple[str, str]]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for dataset, table in tables.items():
            try:
                out[dataset] = stored_rows(conn, schema, table)
            except psycopg.errors.UndefinedTable:
                logger.warning("table %s.%s does not exist; counting it as empty", schema, table)
                out[dataset] = []
    return out


def read_stored_values(
    dsn: str, schema: str, tables: dict[str, str]
) -> dict[str, dict[str, dict[str, object]]]:
    """Per dataset: payload SHA-256 -> the stored row as column -> value (for the value check)."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for dataset, table in tables.items():
            query = sql.SQL(
                "SELECT p.raw_sha256, to_jsonb(d) FROM {schema}.{table} AS d "
                "JOIN {schema}.provenance AS p ON p.provenance_id = d.provenance_id"
            ).format(schema=sql.Identifier(schema), table=sql.Identifier(table))
            try:
                rows = conn.execute(query).fetchall()
            except psycopg.errors.UndefinedTable:
                rows = []
            out[dataset] = {str(sha): dict(doc) for sha, doc in rows}
    return out
