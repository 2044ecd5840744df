"""The normalize service: wires the device registry, mappers and processor to the Kafka runner.

Supervised (runtime.supervise): the consume loop, the registry's and the device profiles' refresh
tasks and the rebirth publisher's MQTT thread (device health flushes on its own task and keeps its
counts on a database error); when one of them ends unexpectedly the service logs it, turns /readyz red,
stops and ``serve`` raises ServiceFailed.
"""

from __future__ import annotations

import logging
import socket
from contextlib import AsyncExitStack

import psycopg

from processors.catalog import Catalog
from processors.catalog.store import drifted_entries
from processors.health.report import expected_interval
from processors.health.service import HealthService
from processors.health.tracker import HealthTracker
from processors.normalize.config import NormalizeSettings
from processors.normalize.dedup import RecentKeys
from processors.normalize.mapper_table import build_mappers
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.rebirth import MqttRebirthPublisher
from processors.normalize.runner import NormalizeRunner, RunnerConfig
from processors.normalize.sealing import RecordSealer
from processors.profiles import ProfileBook, load_profiles
from processors.profiles.store import watch_profiles
from processors.provenance.keytable import KeyTable
from processors.registry import DeviceRegistry
from runtime.http_endpoint import HealthServer
from runtime.supervise import Supervisor
from runtime.topic_admin import ensure_topics, pipeline_topics

__all__ = ["serve"]

logger = logging.getLogger(__name__)


async def _unreviewed(dsn: str, schema: str, catalog: Catalog) -> dict[str, str]:
    """C14: loaded entries that differ from their registered version; logged, then refused."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        withheld = await drifted_entries(conn, catalog, schema)
    for reason in withheld.values():
        logger.error("%s", reason)
    return withheld


async def serve(settings: NormalizeSettings, runner_config: RunnerConfig, catalog: Catalog) -> None:
    """Run the normalize service until SIGINT/SIGTERM; raises ServiceFailed if a task failed."""
    await ensure_topics(
        settings.kafka, pipeline_topics(settings.kafka.topic_prefix, catalog.entries)
    )
    async with Supervisor("normalize") as supervisor, AsyncExitStack() as stack:
        supervisor.stop_on_signals()
        registry = await stack.enter_async_context(
            DeviceRegistry.from_file(db=settings.db, refresh_interval_s=settings.registry_refresh_s)
        )
        if registry.refresh_task is not None:
            supervisor.watch(registry.refresh_task)
        rebirth = None
        if settings.rebirth and "iiot" in runner_config.families:
            rebirth = MqttRebirthPublisher(
                settings.mqtt,
                client_id=f"sensegate-normalize-{socket.gethostname()}",
                on_thread_exit=supervisor.thread_reporter("rebirth-mqtt-thread"),
            )
            await rebirth.start()
            stack.push_async_callback(rebirth.stop)
        dsn, schema = settings.db.dsn.get_secret_value(), settings.db.schema_name
        # Profiles: the files, plus every registered version (a device may be bound to an older one)
        book = ProfileBook(load_profiles(settings.mappers.profiles_dir, catalog))
        supervisor.watch(
            await stack.enter_async_context(
                watch_profiles(book, dsn, schema, refresh_s=settings.registry_refresh_s)
            )
        )
        health = HealthService(
            HealthTracker({e.code: e.family for e in catalog}, window_s=settings.health_window_s),
            registry.devices,
            lambda d: expected_interval(d, book, catalog),
            dsn=dsn,
            schema=schema,
            flush_s=settings.health_flush_s,
        )
        await stack.enter_async_context(health)
        withheld = await _unreviewed(dsn, schema, catalog)
        processor = NormalizeProcessor(
            catalog=catalog,
            registry=registry,
            mappers=build_mappers(
                runner_config.families, settings.mappers, profiles=book, catalog=catalog
            ),
            pseudonymizer=Pseudonymizer.from_config(settings.pseudonym),
            quality=settings.quality,
            dedup=RecentKeys(settings.dedup_cache_size),
            withheld=withheld,
        )
        # Personal datasets' values leave normalize sealed under their subjects' keys (erasure).
        sealer = RecordSealer(
            dsn=dsn, schema=schema, catalog=catalog, cache_s=settings.seal_key_cache_s
        )
        stack.push_async_callback(sealer.close)
        # Raw payloads the gateway sealed per device and epoch open with the raw epoch keys.
        raw_keys = KeyTable(dsn, schema, "sensegate-normalize-raw-keys")
        stack.push_async_callback(raw_keys.close)
        runner = NormalizeRunner(
            kafka=settings.kafka,
            config=runner_config,
            processor=processor,
            rebirth=rebirth,
            on_delivered=health.observe,
            sealer=sealer.seal if sealer.datasets else None,
            raw_keys=raw_keys.raw_by_id,
        )
        await stack.enter_async_context(runner)
        await stack.enter_async_context(
            HealthServer(settings.metrics, lambda: supervisor.healthy and runner.ready)
        )
        # Unwound first: the loop finishes its batch (bounded by the send timeout) before the
        # runner, registry and rebirth publisher it uses are closed.
        grace_s = runner_config.send_timeout_s + runner_config.poll_timeout_ms / 1000
        stack.push_async_callback(supervisor.close, grace_s)
        supervisor.spawn(runner.run(supervisor.stop_event), name="normalize-consume")
        logger.info("normalize running for %s", ",".join(runner_config.families))
        await supervisor.wait()
    logger.info("normalize stopped")
