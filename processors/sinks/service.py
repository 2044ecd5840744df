"""The sink service: a Kafka consumer group over ``<prefix>data.*`` feeding the TimescaleSink.

Offsets live in PostgreSQL, not in Kafka: ``enable_auto_commit`` is off, and on every assignment
the rebalance listener seeks each partition to the offset stored with the rows. A batch from
``getmany`` is flushed in one database transaction; a revocation waits for the running flush.
Dead letters go to ``<prefix>dlq`` and are acknowledged before the batch commits.

``serve`` runs it as the service: /readyz served, SIGINT/SIGTERM handled, the consume loop
supervised (runtime.supervise): if it ends unexpectedly the service logs it, turns /readyz red,
stops and ``serve`` raises ServiceFailed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from contracts.dead_letter import DeadLetter
from contracts.topics import dlq_topic
from processors.catalog import Catalog, load_catalog
from processors.exceptions import StorageError
from processors.sinks.base import SinkInput
from processors.sinks.config import SinkSettings
from processors.sinks.timescale import TimescaleSink, connect
from processors.storage.migrate import migrate
from processors.storage.partitions import drop_expired_partitions, is_partitioned
from runtime.faults import fault_point
from runtime.http_endpoint import HealthServer
from runtime.supervise import Supervisor
from runtime.topic_admin import ensure_topics, pipeline_topics

__all__ = ["SinkService", "serve"]

logger = logging.getLogger(__name__)

# A flush in progress when the service stops gets this long to commit; past it (the database is
# down and the flush keeps retrying) it is cancelled, its transaction rolls back, and the batch is
# stored after a restart from the offsets kept with the rows.
_STOP_GRACE_S = 60.0


async def serve(settings: SinkSettings) -> None:
    """Run the sink service until SIGINT/SIGTERM; raises ServiceFailed if the consume loop failed."""
    service = SinkService(settings, load_catalog(settings.catalog_dir))
    # Start-up objects (modules, catalog, clients) live for the whole run; keep full collections,
    # which every few flushes' worth of short-lived rows triggers, from re-scanning them.
    gc.collect()
    gc.freeze()
    async with Supervisor("sink") as supervisor:
        supervisor.stop_on_signals()
        async with HealthServer(settings.metrics, lambda: supervisor.healthy and service.ready):
            supervisor.spawn(service.run(supervisor.stop_event), name="sink-consume")
            await supervisor.wait()
            await supervisor.close(_STOP_GRACE_S)
    logger.info("sink stopped after storing %d rows", service.stored)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks assigned partitions to the offsets stored in PostgreSQL."""

    def __init__(self, service: SinkService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        async with self._service.lock:
            self._service.sink.forget([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        async with self._service.lock:
            tps = [(tp.topic, tp.partition) for tp in assigned]
            stored = await self._service.sink.load_offsets(tps)
            for tp in assigned:
                offset = stored.get((tp.topic, tp.partition))
                if offset is not None:
                    self._service.consumer.seek(tp, offset)
            logger.info("assigned %d partitions, %d with stored offsets", len(tps), len(stored))


class SinkService:
    """Runs the sink until ``stop`` is set; one consumer, one database connection, one loop."""

    def __init__(self, settings: SinkSettings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.lock = asyncio.Lock()
        kafka = settings.kafka
        self.producer = AIOKafkaProducer(
            acks="all", enable_idempotence=True, **kafka.client_kwargs()
        )
        self.consumer = AIOKafkaConsumer(
            group_id=settings.sink.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            session_timeout_ms=settings.sink.session_timeout_ms,
            metadata_max_age_ms=settings.sink.metadata_max_age_ms,
            max_poll_records=settings.sink.batch_max_records,
            **kafka.client_kwargs(),
        )
        self.sink = TimescaleSink(
            dsn=settings.db.dsn.get_secret_value(),
            schema=settings.db.schema_name,
            catalog=catalog,
            group_id=settings.sink.group_id,
            topic_prefix=kafka.topic_prefix,
            dead_letters=self._send_dead_letters,
            config=settings.sink,
            provenance=settings.provenance,
            application_name=f"sensegate-sink:{settings.sink.group_id}",
        )
        self.stored = 0
        self.ready = False
        self._fault = fault_point("sink.flush")  # test-only; None unless armed

    async def _send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        topic = dlq_topic(self.settings.kafka.topic_prefix)
        try:
            futures = [
                await self.producer.send(
                    topic, d.to_json(), key=d.kafka_key(), headers=d.kafka_headers()
                )
                for d in letters
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
        except (KafkaError, TimeoutError) as exc:
            msg = f"dead letters not acknowledged: {exc!r}"
            raise StorageError(msg, retriable=True) from exc
        for d in letters:
            logger.warning("dead letter %s: %s at %s", d.reason.value, d.detail, d.coordinates)

    async def _retention(self) -> None:
        conn = await connect(self.settings.db.dsn.get_secret_value(), self.settings.db.schema_name,
                             "sensegate-sink-retention")  # fmt: skip
        async with conn:
            for entry in self.catalog.entries.values():
                schema = self.settings.db.schema_name
                if await is_partitioned(conn, schema, entry.storage_table):
                    await drop_expired_partitions(
                        conn, schema, entry.storage_table, entry.retention_days, datetime.now(UTC)
                    )

    async def run(self, stop: asyncio.Event) -> None:
        """Migrate, then consume and store until ``stop`` is set."""
        cfg = self.settings
        if cfg.sink.migrate_on_start:
            await asyncio.to_thread(
                migrate, cfg.db.dsn.get_secret_value(), cfg.db.schema_name, self.catalog,
                mode=cfg.sink.storage_mode,
            )  # fmt: skip
        await ensure_topics(
            cfg.kafka, pipeline_topics(cfg.kafka.topic_prefix, self.catalog.entries, raw=False)
        )
        pattern = f"^{re.escape(cfg.kafka.topic_prefix)}data\\..+$"
        await self.producer.start()
        try:
            async with self.sink:
                await self._retention()
                self.consumer.subscribe(pattern=pattern, listener=_Listener(self))
                await self.consumer.start()
                self.ready = True
                try:
                    await self._loop(stop)
                finally:
                    self.ready = False
                    await self.consumer.stop()
        finally:
            await self.producer.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        cfg = self.settings.sink
        next_retention = asyncio.get_running_loop().time() + cfg.retention_interval_s
        while not stop.is_set():
            batch = await self.consumer.getmany(
                timeout_ms=cfg.batch_timeout_ms, max_records=cfg.batch_max_records
            )
            if batch:
                await self._flush(batch)
            else:
                async with self.lock:  # idle: sign what the last batches appended
                    await self.sink.maybe_checkpoint()
            if asyncio.get_running_loop().time() >= next_retention:
                await self._retention()
                next_retention += cfg.retention_interval_s
        async with self.lock:
            await self.sink.checkpoint()

    async def _flush(self, batch: dict[TopicPartition, list[Any]]) -> None:
        if self._fault is not None:
            self._fault()
        async with self.lock:
            assigned = self.consumer.assignment()
            for tp, messages in batch.items():
                if tp not in assigned:
                    continue  # revoked while we waited for the lock; the new owner reads it
                for m in messages:
                    self.sink.add(SinkInput(m.topic, m.partition, m.offset, m.value, m.key))
            result = await self.sink.flush()
            for (topic, partition), offset in result.seek_to.items():
                tp = TopicPartition(topic, partition)
                if tp in self.consumer.assignment():
                    self.consumer.seek(tp, offset)
            self.stored += result.stored
            if result.stored or result.rejected:
                logger.info(
                    "stored %d, duplicates %d, skipped %d, dead letters %d",
                    result.stored, result.duplicates, result.skipped, len(result.rejected),
                )  # fmt: skip
