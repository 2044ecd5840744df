"""Publishing correction events to Kafka: every stored correction not yet published, idempotently.

Covers corrections decided on an objection case and those made with ``provenance correct`` or
``erase``. Each event's outputs are acknowledged by Kafka (acks=all, idempotent producer) before
``correction_publication`` records it; a crash in between publishes the same keys and values again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from contracts.settings import KafkaConfig
from processors.catalog import Catalog
from processors.objections.propagate import Publication, correction_outputs, load_correction
from processors.share.deidentify import RotatingKeyring

__all__ = ["pending_corrections", "publish_pending", "send_all"]

logger = logging.getLogger(__name__)


async def pending_corrections(conn: AsyncConnection[Any]) -> list[str]:
    """Ids of stored corrections not yet published, oldest first."""
    cur = await conn.execute(
        "SELECT c.correction_id FROM correction AS c WHERE NOT EXISTS (SELECT 1 FROM "
        "correction_publication AS p WHERE p.correction_id = c.correction_id) "
        "ORDER BY c.created_at, c.correction_id"
    )
    return [str(r[0]) for r in await cur.fetchall()]


async def _case_of(conn: AsyncConnection[Any], correction_id: str) -> str | None:
    cur = await conn.execute(
        "SELECT case_id FROM objection_event WHERE state = 'CORRECTED' "
        "AND (body::jsonb -> 'detail' ->> 'correction_id') = %s LIMIT 1",
        (correction_id,),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def send_all(producer: AIOKafkaProducer, publications: list[Publication]) -> None:
    """Produce every publication and wait for all acknowledgements."""
    futures = [
        await producer.send(p.topic, p.value, key=p.key, headers=list(p.headers))
        for p in publications
    ]
    if futures:
        await asyncio.gather(*futures)


async def publish_pending(
    conn: AsyncConnection[Any],
    catalog: Catalog,
    keyring: RotatingKeyring,
    kafka: KafkaConfig,
    *,
    public_key: str,
) -> dict[str, int]:
    """Publish every pending correction; returns correction id -> number of Kafka records."""
    pending = await pending_corrections(conn)
    if not pending:
        return {}
    done: dict[str, int] = {}
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.client_kwargs())
    await producer.start()
    try:
        for correction_id in pending:
            event = await load_correction(conn, correction_id)
            outputs = await correction_outputs(
                conn, catalog, keyring, kafka.topic_prefix, event,
                public_key=public_key, case_id=await _case_of(conn, correction_id),
            )  # fmt: skip
            await send_all(producer, outputs)
            await conn.execute(
                "INSERT INTO correction_publication (correction_id, published_at, outputs) "
                "VALUES (%s, %s, %s) ON CONFLICT (correction_id) DO NOTHING",
                (correction_id, datetime.now(UTC), len(outputs)),
            )
            done[correction_id] = len(outputs)
            logger.info("correction %s published as %d records", correction_id, len(outputs))
    finally:
        await producer.stop()
    return done
