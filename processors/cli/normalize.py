"""``python -m processors normalize``: raw topics -> dataset topics (decode, validate, de-duplicate).

Settings come from the environment (``SENSEGATE_`` prefix, ``__`` nesting), e.g.
``SENSEGATE_KAFKA__TOPIC_PREFIX``, ``SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID``,
``SENSEGATE_PSEUDONYM__KEYS='{"2025-06": "..."}'``, ``SENSEGATE_QUALITY__TOO_OLD=reject``.
``--print-schemas`` / ``--write-schemas DIR`` emit the JSON Schema of every dataset topic and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from pydantic import Field
from pydantic_settings import BaseSettings

from contracts.families import FAMILY_NAMES
from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig, MetricsConfig, MqttConfig
from processors.health.report import expected_interval
from processors.health.service import HealthService
from processors.health.tracker import HealthTracker
from processors.normalize.dedup import RecentKeys
from processors.normalize.mapper_table import MapperConfig, build_mappers, open_registry
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import PseudonymConfig, Pseudonymizer
from processors.normalize.quality import QualityConfig
from processors.normalize.rebirth import MqttRebirthPublisher
from processors.normalize.runner import NormalizeRunner, RunnerConfig
from processors.normalize.schemas import dataset_schema, write_schemas
from processors.profiles import ProfileBook, load_profiles
from processors.profiles.store import refresh_book
from runtime.http_endpoint import HealthServer
from runtime.topic_admin import ensure_topics, pipeline_topics

if TYPE_CHECKING:
    from processors.catalog import Catalog

__all__ = ["NormalizeSettings", "add_arguments", "run", "watch_profiles"]

logger = logging.getLogger(__name__)


class NormalizeSettings(BaseSettings):
    """Settings of the normalize service (environment, ``SENSEGATE_`` prefix)."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    mqtt: MqttConfig = MqttConfig()
    db: DbConfig = DbConfig()
    metrics: MetricsConfig = MetricsConfig()
    pseudonym: PseudonymConfig = PseudonymConfig()
    quality: QualityConfig = QualityConfig()
    runner: RunnerConfig = RunnerConfig()
    mappers: MapperConfig = MapperConfig()
    dedup_cache_size: int = Field(default=200_000, ge=1)
    catalog_dir: Path | None = None
    registry_refresh_s: float = Field(default=5.0, gt=0)
    rebirth: bool = True
    health_flush_s: float = Field(
        default=15.0, gt=0, description="seconds between device health flushes to PostgreSQL"
    )
    health_window_s: int = Field(
        default=300, gt=0, description="device health window (rows of device_health), seconds"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the normalize command."""
    parser.add_argument(
        "--families", default=",".join(FAMILY_NAMES), help="comma-separated families (default: all)"
    )
    parser.add_argument("--group", default=None, help="consumer group id (default from settings)")
    parser.add_argument("--max-batch", type=int, default=None, help="records per poll")
    parser.add_argument(
        "--print-schemas", action="store_true", help="print the dataset JSON Schemas and exit"
    )
    parser.add_argument(
        "--write-schemas", type=Path, default=None, metavar="DIR", help="write schemas and exit"
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    from processors.catalog import load_catalog

    settings = NormalizeSettings()
    catalog = load_catalog(settings.catalog_dir)
    if args.print_schemas or args.write_schemas:
        if args.write_schemas:
            for path in write_schemas(catalog, args.write_schemas):
                print(path)
        else:
            docs = {e.code: dataset_schema(e, settings.kafka.topic_prefix) for e in catalog}
            print(json.dumps(docs, indent=2, ensure_ascii=False))
        return 0
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = sorted(set(families) - set(FAMILY_NAMES))
    if unknown:
        logger.error("unknown families: %s (known: %s)", unknown, ", ".join(FAMILY_NAMES))
        return 2
    updates: dict[str, object] = {"families": families}
    if args.group:
        updates["group_id"] = args.group
    if args.max_batch:
        updates["max_batch"] = args.max_batch
    runner_config = settings.runner.model_copy(update=updates)
    asyncio.run(serve(settings, runner_config, catalog))
    return 0


@asynccontextmanager
async def watch_profiles(
    catalog: Catalog, settings: NormalizeSettings, *, refresh_s: float
) -> AsyncIterator[ProfileBook]:
    """Profiles from the files plus every registered version, re-read from the database."""
    book = ProfileBook(load_profiles(settings.mappers.profiles_dir, catalog))
    dsn, schema = settings.db.dsn.get_secret_value(), settings.db.schema_name

    async def refresh() -> None:
        while True:
            try:
                await refresh_book(book, dsn, schema)
            except (psycopg.Error, OSError) as exc:
                logger.warning("registered profiles not refreshed (%s); keeping %d", exc, len(book))
            await asyncio.sleep(refresh_s)

    task = asyncio.create_task(refresh(), name="profile-refresh")
    try:
        yield book
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def serve(settings: NormalizeSettings, runner_config: RunnerConfig, catalog: object) -> None:
    """Run the normalize service until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    datasets = list(getattr(catalog, "entries", {}))
    await ensure_topics(settings.kafka, pipeline_topics(settings.kafka.topic_prefix, datasets))
    async with AsyncExitStack() as stack:
        registry = await stack.enter_async_context(
            open_registry(settings.db, refresh_s=settings.registry_refresh_s)
        )
        rebirth = None
        if settings.rebirth and "iiot" in runner_config.families:
            rebirth = MqttRebirthPublisher(
                settings.mqtt, client_id=f"sensegate-normalize-{socket.gethostname()}"
            )
            await rebirth.start()
            stack.push_async_callback(rebirth.stop)
        book = await stack.enter_async_context(
            watch_profiles(catalog, settings, refresh_s=settings.registry_refresh_s)  # type: ignore[arg-type]
        )
        devices = getattr(registry, "devices", tuple)
        health = HealthService(
            HealthTracker(
                {e.code: e.family for e in catalog},  # type: ignore[attr-defined]
                window_s=settings.health_window_s,
            ),
            devices,
            lambda d: expected_interval(d, book, catalog),  # type: ignore[arg-type]
            dsn=settings.db.dsn.get_secret_value(),
            schema=settings.db.schema_name,
            flush_s=settings.health_flush_s,
        )
        await stack.enter_async_context(health)
        processor = NormalizeProcessor(
            catalog=catalog,  # type: ignore[arg-type]
            registry=registry,
            mappers=build_mappers(
                runner_config.families,
                settings.mappers,
                profiles=book,
                catalog=catalog,  # type: ignore[arg-type]
            ),
            pseudonymizer=Pseudonymizer.from_config(settings.pseudonym),
            quality=settings.quality,
            dedup=RecentKeys(settings.dedup_cache_size),
        )
        runner = NormalizeRunner(
            kafka=settings.kafka,
            config=runner_config,
            processor=processor,
            rebirth=rebirth,
            on_delivered=health.observe,
        )
        await stack.enter_async_context(runner)
        await stack.enter_async_context(HealthServer(settings.metrics, lambda: runner.ready))
        logger.info("normalize running for %s", ",".join(runner_config.families))
        await runner.run(stop)
    logger.info("normalize stopped")
