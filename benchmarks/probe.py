"""Progress of each pipeline stage, sampled from outside: Kafka offsets and the sink's stored offsets.

* gateway output = end offsets of the raw topics;
* normalize input = committed offsets of its consumer group on the raw topics, and its output =
  end offsets of the data topics;
* sink input/output = ``next_offset`` stored by the sink in ``<schema>.ingest_offset`` (written in
  the same transaction as the rows, so it counts records whose rows are committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import sql

from runtime.kafka_client import client_kwargs

__all__ = ["Counters", "Probe", "create_topics", "delete_topics"]

logger = logging.getLogger(__name__)

PARTITIONS = 3


@dataclass
class Counters:
    """One sample of every stage's progress (monotonic counters, in Kafka records)."""

    t: float
    raw: dict[str, int] = field(default_factory=dict)  # family -> records on the raw topic
    normalized: dict[str, int] = field(default_factory=dict)  # family -> records consumed by normalize
    data: dict[str, int] = field(default_factory=dict)  # dataset -> records on the data topic
    sunk: int = 0  # data records the sink has committed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"t": round(self.t, 3), "raw": self.raw, "normalized": self.normalized,
                "data": self.data, "sunk": self.sunk}


async def create_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Create the run's topics up front (so consumers see them at once); existing ones are kept."""
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, PARTITIONS, 1) for t in topics if t not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix`` (the run's own); returns the count."""
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap))
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
        return len(mine)
    finally:
        await admin.close()


class Probe:
    """Samples ``Counters`` for one topic prefix, normalize group(s) and sink group."""

    def __init__(
        self,
        *,
        bootstrap: str,
        dsn: str,
        schema: str,
        raw_topics: dict[str, str],
        data_topics: dict[str, str],
        normalize_groups: Sequence[str],
        sink_group: str,
    ) -> None:
        self.bootstrap = bootstrap
        self.dsn = dsn
        self.schema = schema
        self.raw_topics = raw_topics
        self.data_topics = data_topics
        self.normalize_groups = list(normalize_groups)
        self.sink_group = sink_group
        self.samples: list[Counters] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._db: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to Kafka and PostgreSQL."""
        self._consumer = AIOKafkaConsumer(**client_kwargs(self.bootstrap), enable_auto_commit=False)
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(**client_kwargs(self.bootstrap))
        await self._admin.start()
        self._db = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)

    async def close(self) -> None:
        """Stop sampling and disconnect (idempotent)."""
        await self.stop_sampling()
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def sample(self) -> Counters:
        """Take one sample (and keep it)."""
        assert self._consumer is not None and self._admin is not None  # noqa: S101 - started
        out = Counters(time.monotonic())
        topics = {**{v: ("raw", k) for k, v in self.raw_topics.items()},
                  **{v: ("data", k) for k, v in self.data_topics.items()}}
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = await self._consumer.end_offsets(tps)
        for tp, end in ends.items():
            kind, key = topics[tp.topic]
            bucket = out.raw if kind == "raw" else out.data
            bucket[key] = bucket.get(key, 0) + int(end)
        by_topic = {v: k for k, v in self.raw_topics.items()}
        for group in self.normalize_groups:
            with contextlib.suppress(Exception):
                committed = await self._admin.list_consumer_group_offsets(group)
                for tp, meta in committed.items():
                    family = by_topic.get(tp.topic)
                    if family is not None and meta.offset >= 0:
                        out.normalized[family] = out.normalized.get(family, 0) + int(meta.offset)
        out.sunk = await self._sunk()
        self.samples.append(out)
        return out

    async def _sunk(self) -> int:
        if self._db is None:
            return 0
        query = sql.SQL("SELECT COALESCE(SUM(next_offset), 0) FROM {}.ingest_offset WHERE group_id = %s").format(
            sql.Identifier(self.schema))
        try:
            cur = await self._db.execute(query, (self.sink_group,))
            row = await cur.fetchone()
        except psycopg.Error:
            return 0  # the sink has not created its tables yet
        return int(row[0]) if row else 0

    def start_sampling(self, interval_s: float = 0.5) -> None:
        """Sample in the background every ``interval_s`` until ``stop_sampling``."""

        async def loop() -> None:
            while True:
                try:
                    await self.sample()
                except Exception as exc:
                    logger.debug("probe sample failed: %s", exc)
                await asyncio.sleep(interval_s)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop_sampling(self) -> None:
        """Cancel the background sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
