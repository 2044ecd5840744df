"""The share service: the Kafka loop around ShareProcessor, and its supervised wiring.

``run_share`` consumes ``<prefix>data.*`` and publishes the share and open tiers (delivery and
commit rules in processors.share.processor). ``serve`` runs it as the service: topics ensured,
/readyz served, SIGINT/SIGTERM handled, the loop supervised (runtime.supervise): if it ends
unexpectedly the service logs it, turns /readyz red, stops and ``serve`` raises ServiceFailed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.sealed import SEALED_FIELD_KID
from processors.catalog import Catalog
from processors.exceptions import ConfigurationError
from processors.provenance.keytable import KeyTable
from processors.share.config import ShareSettings
from processors.share.deidentify import RotatingKeyring
from processors.share.offsets import OffsetBook, ShareDeliveryError, await_acks
from processors.share.processor import Output, ShareProcessor, ShareStats
from runtime.http_endpoint import HealthServer
from runtime.supervise import Supervisor
from runtime.topic_admin import ensure_topics, pipeline_topics

__all__ = ["run_share", "serve"]

logger = logging.getLogger(__name__)

# A batch in progress when the service stops gets this long to be published and committed; past
# it the loop is cancelled and the uncommitted records are read again after a restart.
_STOP_GRACE_S = 60.0


async def serve(
    settings: ShareSettings, catalog: Catalog, *, idle_exit_s: float | None = None
) -> None:
    """Run the share service until SIGINT/SIGTERM (or idle, with ``idle_exit_s``).

    Raises ServiceFailed when the consume loop failed.
    """
    prefix = settings.kafka.topic_prefix
    await ensure_topics(settings.kafka, pipeline_topics(prefix, catalog.entries, raw=False))
    started: list[bool] = []
    async with Supervisor("share") as supervisor:
        supervisor.stop_on_signals()
        health = HealthServer(settings.metrics, lambda: supervisor.healthy and bool(started))
        async with health:
            supervisor.spawn(
                run_share(
                    settings, catalog, stop=supervisor.stop_event, idle_exit_s=idle_exit_s,
                    on_ready=lambda: started.append(True),
                ),
                name="share-consume",
                ends="never" if idle_exit_s is None else "stops",
            )  # fmt: skip
            await supervisor.wait()
            await supervisor.close(_STOP_GRACE_S)


async def run_share(
    settings: ShareSettings,
    catalog: Catalog,
    *,
    stop: asyncio.Event | None = None,
    idle_exit_s: float | None = None,
    on_ready: Callable[[], None] | None = None,
) -> ShareStats:
    """Consume data topics and publish share/open tiers until ``stop`` is set.

    With ``idle_exit_s`` the run is bounded: after that many seconds without input every window is
    drained, published and committed, and the function returns (batch and test runs).
    """
    keys = settings.share_keys
    processor = ShareProcessor(
        catalog,
        RotatingKeyring(keys.masters, keys.active_id),
        prefix=settings.kafka.topic_prefix,
        lateness=timedelta(seconds=settings.share_lateness_s),
        max_delay=timedelta(seconds=settings.share_max_delay_s),
        seal_personal=settings.share_seal_personal,
    )
    if not settings.share_seal_personal:
        logger.warning(
            "SENSEGATE_SHARE_SEAL_PERSONAL=false: personal values go to the share tier in clear; "
            "an erasure then reaches earlier share records only through compaction"
        )
    # Opened lazily: only a batch holding sealed records (personal datasets) needs the key table.
    db = settings.db
    key_table = (
        None
        if db is None
        else KeyTable(db.dsn.get_secret_value, db.schema_name, "sensegate-share-keys")
    )
    for code, reason in processor.refused.items():
        logger.warning("not opening %s: %s", code, reason)
    stop = stop or asyncio.Event()
    kwargs = settings.kafka.client_kwargs()
    consumer = AIOKafkaConsumer(
        group_id=settings.share_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=30000,
        **kwargs,
    )
    # A pattern, not a topic list: a data topic that does not exist yet must not fail start-up
    # (without CREATE rights the broker answers "not authorized" for a missing topic), and it is
    # picked up on the next metadata refresh once the normalizer creates it.
    book = OffsetBook()
    consumer.subscribe(
        pattern="^(" + "|".join(re.escape(t) for t in processor.source_topics) + ")$",
        listener=book,
    )
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kwargs)
    try:
        await consumer.start()
        await producer.start()
        if on_ready is not None:
            on_ready()
    except BaseException:
        await consumer.stop()
        await producer.stop()
        raise
    last_input = time.monotonic()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            outputs: list[Output] = []
            # The live keys the batch's sealed records name, in one query (never cached across
            # batches: a destroyed key must stop opening records at once).
            kids = {
                m.group(1).decode()
                for messages in batch.values()
                for msg in messages
                if (m := SEALED_FIELD_KID.search(msg.value or b""))
            }
            if kids and key_table is None:
                msg = "sealed records on the data topics: the share service needs SENSEGATE_DB__DSN"
                raise ConfigurationError(msg)
            subject_keys = await key_table.by_id(kids) if kids and key_table is not None else {}
            for tp, messages in batch.items():
                for msg in messages:
                    outputs += processor.process(
                        msg.value or b"", (tp.topic, tp.partition), msg.offset, subject_keys
                    )
                    book.advance(tp.topic, tp.partition, msg.offset)
            if batch:
                last_input = time.monotonic()
            outputs += processor.tick()
            idle = idle_exit_s is not None and time.monotonic() - last_input > idle_exit_s
            if idle:
                outputs += processor.drain()
            await _publish(producer, outputs, settings.share_produce_timeout_s)
            await book.commit(consumer, processor.held_offsets())
            if idle:
                break
    finally:
        await consumer.stop()
        await producer.stop()
        if key_table is not None:
            await key_table.close()
    logger.info("share stopped: %s", processor.stats)
    return processor.stats


async def _publish(producer: AIOKafkaProducer, outputs: list[Output], timeout_s: float) -> None:
    async def send_all() -> list[Any]:
        return [
            await producer.send(o.topic, o.value, key=o.key, headers=list(o.headers))
            for o in outputs
        ]

    # send() itself waits when the producer's buffer is full: bound it too; every ack before commit.
    try:
        futures = await asyncio.wait_for(send_all(), timeout_s)
    except TimeoutError as exc:
        msg = f"share outputs not handed to the producer within {timeout_s:.0f} s"
        raise ShareDeliveryError(msg) from exc
    await await_acks(futures, timeout_s)
