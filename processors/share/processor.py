"""Sharing processor: ``sensegate.data.*`` -> ``sensegate.share.<code>`` and ``sensegate.open.<code>``.

``ShareProcessor`` is the synchronous core: it turns one dataset record into the outputs the
catalog allows (see ``processors.share.rules``) and holds the (cell, bucket) windows of
k-suppressed outputs. ``run_share`` is the Kafka loop around it.

Delivery: at-least-once. Offsets are committed only after every output of the batch was
acknowledged by Kafka (acks=all), and never beyond the lowest offset still held by an open
suppression window, so a crash replays whatever was not yet published. Record key = record id.
A replay after a crash may publish an aggregate again under the same record id (its count then
covers the replayed records only); consumers keep one row per record id.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.record import DatasetRecord
from contracts.settings import SETTINGS_CONFIG, KafkaConfig, MetricsConfig
from contracts.topics import data_topic, dlq_topic
from processors.catalog import Catalog
from processors.share.deidentify import CellWindow, RotatingKeyring, WindowKey, time_bucket
from processors.share.fences import fence_of, generalized
from processors.share.offsets import OffsetBook, ShareDeliveryError, await_acks
from processors.share.rules import (
    Target,
    aggregate_record,
    aggregate_values,
    cell_of,
    group_items,
    open_microdata,
    plan_targets,
    release_problems,
    share_record,
)

__all__ = ["Output", "ShareKeys", "ShareProcessor", "ShareSettings", "run_share"]

logger = logging.getLogger(__name__)


class ShareKeys(BaseModel):
    """Master secrets of the rotating share/open pseudonym keys (id -> secret) and the active id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    masters: dict[str, SecretStr] = Field(
        default_factory=lambda: {"share-dev-0": SecretStr("sensegate-share-dev-key-change-me")},
        description="key id -> share/open pseudonym master secret (JSON); the default is a development key",
    )
    active_id: str = "share-dev-0"


class ShareSettings(BaseSettings):
    """Settings of ``python -m processors share`` (environment prefix ``SENSEGATE_``)."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    metrics: MetricsConfig = MetricsConfig()
    share_keys: ShareKeys = ShareKeys()
    share_group_id: str = "sensegate-share"
    share_lateness_s: int = Field(default=60, ge=0)
    share_max_delay_s: int = Field(default=300, ge=1)
    # Longest wait for the acknowledgements of one batch; past it the service exits uncommitted.
    share_produce_timeout_s: float = Field(default=60.0, gt=0)


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class _Stats:
    published: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    blocked: int = 0
    invalid: int = 0
    fenced: dict[str, int] = field(default_factory=dict)  # "<fence id>:<tier>:<code>" -> records


class ShareProcessor:
    """Maps dataset records to share/open outputs by catalog class; one instance per consumer task.

    Not thread-safe. ``process`` never raises for a bad record: it returns a dead letter instead.
    Suppressed windows (< k entities) produce nothing; blocked open values become dead letters
    with reason ``open_release_blocked`` and never reach an open topic.
    """

    def __init__(
        self,
        catalog: Catalog,
        keyring: RotatingKeyring,
        *,
        prefix: str = "sensegate.",
        lateness: timedelta = timedelta(seconds=60),
        max_delay: timedelta = timedelta(minutes=5),
    ) -> None:
        self.prefix = prefix
        self.targets, self.refused = plan_targets(catalog, prefix)
        self._catalog = catalog
        self._keyring = keyring
        self._max_delay = max_delay
        self._windows: dict[str, CellWindow] = {}
        self._by_source: dict[str, list[Target]] = {}
        for target in self.targets:
            self._by_source.setdefault(target.source, []).append(target)
            k = target.entry.deidentification.k_anonymity
            if target.mode == "aggregate" or (target.mode == "microdata" and k):
                self._windows[target.name] = CellWindow(
                    bucket_s=target.entry.deidentification.time_bucket_s or 60,
                    k=k or 1,
                    lateness=lateness,
                )
        self._event_max: dict[tuple[str, int], datetime] = {}
        self.stats = _Stats()

    @property
    def source_topics(self) -> list[str]:
        """Data topics this processor must read."""
        return sorted(data_topic(self.prefix, s) for s in self._by_source)

    def process(self, value: bytes, tp: tuple[str, int], offset: int) -> list[Output]:
        """Outputs (or one dead letter) for one data-topic record."""
        try:
            record = DatasetRecord.from_kafka_value(value)
        except ValidationError as exc:
            self.stats.invalid += 1
            return [
                self._dead(
                    ReasonCode.SCHEMA_INVALID, f"not a DatasetRecord: {exc}", value, tp, offset
                )
            ]
        moment = record.observed_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > self._event_max.get(tp, moment - timedelta(1)):
            self._event_max[tp] = moment
        outputs: list[Output] = []
        fence = fence_of(record, self._catalog.geofences)
        for target in self._by_source.get(record.dataset, ()):
            routed = record
            if fence is not None:
                # C15: the exact record stays on the data topic; this output drops or coarsens it.
                key = f"{fence.id}:{target.name}"
                self.stats.fenced[key] = self.stats.fenced.get(key, 0) + 1
                policy = target.entry.sensitive_areas
                if policy.action == "drop" or policy.cell_m is None:
                    continue
                routed = generalized(record, policy.cell_m)
            outputs += self._route(target, routed, tp, offset, value)
        return outputs

    def _route(
        self, target: Target, record: DatasetRecord, tp: tuple[str, int], offset: int, raw: bytes
    ) -> list[Output]:
        if target.mode == "record":
            shared = share_record(record, target.entry, self._keyring)
            return [self._out(target, shared.record_id, shared.to_kafka_value())]
        window = self._windows.get(target.name)
        if target.mode == "microdata":
            opened = open_microdata(record, target.entry, self._keyring)
            if window is None:
                return self._guarded(target, [opened], raw, tp, offset)
            cell_id = opened.cell.id if opened.cell else "-"
            key = WindowKey(target.name, cell_id, opened.period_start)
            window.add(key, record.entity_id, opened, tp, offset)
            return []
        cell = cell_of(record, target.entry)
        if cell is None or window is None:
            return []  # no position: cannot be placed in a cell, so it is not counted
        source = self._catalog.get(target.source)
        names = group_items(target.entry, source) if source else ()
        group = tuple((n, record.values.get(n)) for n in names)
        bucket = time_bucket(record.observed_at, target.entry.deidentification.time_bucket_s or 60)
        window.add(
            WindowKey(target.name, cell.cell_id, bucket, group),
            record.entity_id,
            record,
            tp,
            offset,
        )
        return []

    def tick(self, now: datetime | None = None) -> list[Output]:
        """Close windows whose bucket is over (event time, or wall clock minus max delay)."""
        wall = (now or datetime.now(UTC)) - self._max_delay
        outputs: list[Output] = []
        for target in self.targets:
            window = self._windows.get(target.name)
            if window is None:
                continue
            seen = [
                t
                for (topic, _p), t in self._event_max.items()
                if topic == data_topic(self.prefix, target.source)
            ]
            horizon = max([min(seen)] if seen else [], default=wall)
            outputs += self._released(target, window.close_until(max(horizon, wall)))
        return outputs

    def drain(self) -> list[Output]:
        """Close every window (end of a bounded run)."""
        outputs: list[Output] = []
        for target in self.targets:
            window = self._windows.get(target.name)
            if window is not None:
                outputs += self._released(target, window.close_all())
        return outputs

    def held_offsets(self) -> dict[tuple[str, int], int]:
        """Lowest offset per partition still held by any open window (commit no further)."""
        held: dict[tuple[str, int], int] = {}
        for window in self._windows.values():
            for tp, offset in window.held_offsets().items():
                held[tp] = min(offset, held.get(tp, offset))
        return held

    def _released(self, target: Target, releases: Iterable[Any]) -> list[Output]:
        outputs: list[Output] = []
        k = target.entry.deidentification.k_anonymity
        for release in releases:
            if not release.released:
                self.stats.suppressed += 1
                continue
            if target.mode == "microdata":
                outputs += self._guarded(target, list(release.rows), b"", None, None)
                continue
            cell = cell_of(release.rows[0], target.entry)
            if cell is None:  # cannot happen: only located records enter an aggregate window
                continue
            values = aggregate_values(
                target.entry, release.key.group, release.rows, release.entity_count
            )
            agg = aggregate_record(
                target, cell, release.key.bucket_start, release.key.group, values
            )
            outputs += self._guarded(target, [agg], b"", None, None, k=k)
        return outputs

    def _guarded(
        self,
        target: Target,
        records: list[Any],
        raw: bytes,
        tp: tuple[str, int] | None,
        offset: int | None,
        *,
        k: int | None = None,
    ) -> list[Output]:
        outputs: list[Output] = []
        for rec in records:
            problems = release_problems(rec, target.entry, k)
            if problems:
                self.stats.blocked += 1
                logger.error("open release blocked for %s: %s", target.name, "; ".join(problems))
                outputs.append(
                    self._dead(
                        ReasonCode.OPEN_RELEASE_BLOCKED, "; ".join(problems), raw, tp, offset
                    )
                )
                continue
            outputs.append(self._out(target, rec.record_id, rec.to_kafka_value()))
        return outputs

    def _out(self, target: Target, record_id: str, value: bytes) -> Output:
        self.stats.published[target.topic] = self.stats.published.get(target.topic, 0) + 1
        headers = (("sg.rule_set", target.entry.code.encode()), ("sg.tier", target.tier.encode()))
        return Output(target.topic, record_id.encode(), value, headers)

    def _dead(
        self,
        reason: ReasonCode,
        detail: str,
        raw: bytes,
        tp: tuple[str, int] | None,
        offset: int | None,
    ) -> Output:
        coords = {"topic": tp[0], "partition": tp[1], "offset": offset} if tp else None
        letter = DeadLetter(reason, detail[:500], Stage.SHARE, raw, coordinates=coords)
        return Output(
            dlq_topic(self.prefix),
            letter.kafka_key(),
            letter.to_json(),
            tuple(letter.kafka_headers()),
        )


async def run_share(
    settings: ShareSettings,
    catalog: Catalog,
    *,
    stop: asyncio.Event | None = None,
    idle_exit_s: float | None = None,
    on_ready: Callable[[], None] | None = None,
) -> _Stats:
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
            for tp, messages in batch.items():
                for msg in messages:
                    outputs += processor.process(
                        msg.value or b"", (tp.topic, tp.partition), msg.offset
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
