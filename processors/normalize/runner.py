"""Kafka plumbing of the normalize stage: consume raw topics, produce outputs, THEN commit offsets.

Delivery guarantee: at-least-once between topics. For each ``getmany`` batch the runner produces
every data record, dead letter and quarantine entry with an idempotent ``acks=all`` producer, waits
for all acknowledgements and only then commits the batch's offsets. A crash or rebalance between
produce and commit reprocesses the batch; record ids derived from natural keys (plus the recent-key
cache and the sink's unique key) make that invisible downstream. Kafka transactions are not used:
see docs/normalize.md for why.

Loop affinity: one runner per event loop; the processor is called synchronously on that loop.
A rebalance listener takes the batch lock, so partitions are only revoked between batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import BaseModel, ConfigDict, Field

from contracts.dead_letter import DeadLetter, Stage
from contracts.envelope import Envelope, EnvelopeFormatError, KafkaCoordinates, RawRecord
from contracts.families import FAMILY_NAMES
from contracts.record import WireRecord
from contracts.sealed import KeyDestroyed, SealInvalid, kid_of, open_token, raw_context
from contracts.settings import KafkaConfig
from contracts.topics import data_topic, dlq_topic, quarantine_topic, raw_topic
from processors.exceptions import ProcessorError
from processors.normalize import metrics
from processors.normalize.contract import BatchResult, Processor, RebirthRequest

__all__ = ["NormalizeRunner", "RunnerConfig", "sealed_raw_kids", "to_raw_records"]

logger = logging.getLogger(__name__)

RebirthHandler = Callable[[Sequence[RebirthRequest]], Awaitable[None]]
# Seals a batch's records of personal datasets (processors.normalize.sealing) before produce.
Sealer = Callable[[Sequence[WireRecord]], Awaitable[list[WireRecord]]]
# Live raw epoch keys by id (processors.provenance.keytable.KeyTable.raw_by_id).
RawKeys = Callable[[set[str]], Awaitable[dict[str, bytes]]]


class DeliveryError(ProcessorError):
    """Outputs of a batch were not acknowledged in time; the batch will be reprocessed."""

    retriable = True


class RunnerConfig(BaseModel):
    """Consumer-group and batching settings of the normalize runner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    families: tuple[str, ...] = FAMILY_NAMES
    group_id: str = "sensegate-normalize"
    max_batch: int = Field(default=500, ge=1)
    poll_timeout_ms: int = Field(default=500, ge=10)
    send_timeout_s: float = Field(default=30.0, gt=0)
    auto_offset_reset: str = "earliest"


def sealed_raw_kids(messages: Sequence[Any]) -> set[str]:
    """Ids of the raw epoch keys the batch's sealed payloads name (``sg.seal`` header)."""
    return {
        v.decode("utf-8", "replace")
        for m in messages
        for k, v in (m.headers or ())
        if k == "sg.seal"
    }


def _opened(
    value: bytes | None, headers: list[tuple[str, bytes]], kid: str, keys: Mapping[str, bytes]
) -> bytes | None:
    """The payload of a raw value the gateway sealed under key ``kid`` (its ``sg.seal``)."""
    h = {k: v.decode("utf-8", "replace") for k, v in headers}
    try:
        context = raw_context(h["sg.family"], h["sg.device"], int(h["sg.rx_ns"]))
    except (KeyError, ValueError) as exc:
        msg = f"sealed payload without its envelope headers: {exc}"
        raise SealInvalid(msg) from exc
    if kid_of((value or b"").decode("ascii", "replace")) != kid:
        msg = "sg.seal names another key than the sealed payload"
        raise SealInvalid(msg)
    return open_token((value or b"").decode("ascii", "replace"), keys.get, context)


def to_raw_records(
    messages: Sequence[Any], raw_keys: Mapping[str, bytes] | None = None
) -> tuple[list[RawRecord], list[DeadLetter]]:
    """Convert aiokafka records of raw topics into RawRecords; malformed envelopes become dead letters.

    A payload the gateway sealed (``sg.seal``) is opened with ``raw_keys`` (live raw epoch keys by
    id); one whose key is destroyed becomes a ``subject_erased`` dead letter carrying the sealed
    bytes, never the payload.
    """
    raws: list[RawRecord] = []
    dead: list[DeadLetter] = []
    for msg in messages:
        coords = KafkaCoordinates(msg.topic, msg.partition, msg.offset)
        headers = list(msg.headers or ())
        kid = next((v.decode("utf-8", "replace") for k, v in headers if k == "sg.seal"), None)
        try:
            payload = msg.value if kid is None else _opened(msg.value, headers, kid, raw_keys or {})
            env = Envelope.from_kafka(payload, headers)
        except (EnvelopeFormatError, SealInvalid, KeyDestroyed) as exc:
            meta = {k: v.decode("utf-8", "replace") for k, v in headers}
            dead.append(
                DeadLetter(
                    reason=exc.reason,
                    detail=exc.detail,
                    stage=Stage.NORMALIZE,
                    payload=msg.value or b"",
                    envelope={"headers": meta, "key": (msg.key or b"").decode("utf-8", "replace")},
                    coordinates={
                        "topic": msg.topic,
                        "partition": msg.partition,
                        "offset": msg.offset,
                    },
                )
            )
            continue
        sealed = (msg.value or b"", kid) if kid is not None else None
        raws.append(RawRecord(env, coords, sealed))
    return raws, dead


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Waits for the in-flight batch before partitions are revoked; reloads state on assignment."""

    def __init__(self, lock: asyncio.Lock, processor: Processor) -> None:
        self._lock = lock
        self._processor = processor

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:
            logger.info("partitions revoked after batch completion: %s", sorted(map(str, revoked)))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        logger.info("partitions assigned: %s", sorted(map(str, assigned)))
        reload = getattr(self._processor, "reload", None)
        if callable(reload):
            # a moved partition's protocol state (Sparkplug births) may be newer on disk
            async with self._lock:
                await asyncio.to_thread(reload)


class NormalizeRunner:
    """Consumer-group service around a ``Processor`` (see module docstring for guarantees).

    ``start``/``stop`` are idempotent; ``stop`` never runs during a batch (it takes the batch lock).
    """

    def __init__(
        self,
        *,
        kafka: KafkaConfig,
        config: RunnerConfig,
        processor: Processor,
        rebirth: RebirthHandler | None = None,
        on_delivered: Callable[[BatchResult, list[DeadLetter]], None] | None = None,
        sealer: Sealer | None = None,
        raw_keys: RawKeys | None = None,
    ) -> None:
        self._kafka = kafka
        self._config = config
        self._processor = processor
        self._rebirth = rebirth
        # told about every committed batch (device health); never on a batch that will be redone
        self._on_delivered = on_delivered
        self._sealer = sealer
        self._raw_keys = raw_keys
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.batches = 0

    async def __aenter__(self) -> NormalizeRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect the producer and join the consumer group."""
        if self._consumer is not None:
            return
        common = self._kafka.client_kwargs()
        self._producer = AIOKafkaProducer(
            **common, acks="all", enable_idempotence=True, linger_ms=5
        )
        await self._producer.start()
        consumer = AIOKafkaConsumer(
            **common,
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset=self._config.auto_offset_reset,
            isolation_level="read_committed",
        )
        await consumer.start()
        topics = [raw_topic(self._kafka.topic_prefix, f) for f in self._config.families]
        consumer.subscribe(topics, listener=_Rebalance(self._lock, self._processor))
        self._consumer = consumer
        logger.info("normalize runner joined group %s on %s", self._config.group_id, topics)

    async def stop(self) -> None:
        """Finish the current batch, leave the group and flush the producer."""
        async with self._lock:
            consumer, producer = self._consumer, self._producer
            self._consumer = self._producer = None
        if consumer is not None:
            await consumer.stop()
        if producer is not None:
            await producer.stop()

    @property
    def ready(self) -> bool:
        """True once the consumer and producer are started (the service's /readyz)."""
        return self._consumer is not None

    def assignment(self) -> set[TopicPartition]:
        """Raw-topic partitions currently assigned to this instance."""
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def run(self, stop: asyncio.Event) -> None:
        """Process batches until ``stop`` is set; a delivery failure raises (the batch is redone)."""
        while not stop.is_set():
            consumer = self._consumer
            if consumer is None:
                msg = "runner not started"
                raise ProcessorError(msg)
            polled = await consumer.getmany(
                timeout_ms=self._config.poll_timeout_ms, max_records=self._config.max_batch
            )
            if not polled:
                continue
            async with self._lock:
                await self.handle(polled)

    async def handle(self, polled: dict[TopicPartition, list[Any]]) -> BatchResult:
        """Process one polled batch: produce all outputs, await acks, then commit its offsets."""
        started = time.perf_counter()
        messages = [m for msgs in polled.values() for m in msgs]
        kids = sealed_raw_kids(messages)
        keys = await self._raw_keys(kids) if kids and self._raw_keys is not None else {}
        raws, bad = to_raw_records(messages, keys)
        result = self._processor.process(raws)
        try:
            records = list(result.records)
            if self._sealer is not None:
                records = await self._sealer(records)
            await self._deliver(result, bad, records)
        except BaseException:
            # nothing of this batch is known delivered: forget its keys so the redo is not dropped
            self._processor.forget(result)
            raise
        if result.rebirths and self._rebirth is not None:
            try:
                await self._rebirth(result.rebirths)
            except (OSError, ProcessorError):
                logger.warning("rebirth request(s) not sent", exc_info=True)
        await self._commit(polled)
        self.batches += 1
        metrics.observe_batch(result, len(bad), time.perf_counter() - started)
        if self._on_delivered is not None:
            self._on_delivered(result, bad)
        return result

    async def _deliver(
        self, result: BatchResult, bad: list[DeadLetter], records: Sequence[WireRecord]
    ) -> None:
        producer = self._producer
        if producer is None:
            msg = "runner not started"
            raise ProcessorError(msg)
        prefix = self._kafka.topic_prefix
        futures: list[asyncio.Future[Any]] = []
        for record in records:
            headers = [
                ("sg.record_id", record.record_id.encode()),
                ("sg.dataset", record.dataset.encode()),
            ]
            futures.append(
                await producer.send(
                    data_topic(prefix, record.dataset),
                    value=record.to_kafka_value(),
                    key=record.kafka_key(),
                    headers=headers,
                )
            )
        for letter in (*result.dead_letters, *bad):
            futures.append(await self._send_letter(producer, dlq_topic(prefix), letter))
        for letter in result.quarantined:
            futures.append(await self._send_letter(producer, quarantine_topic(prefix), letter))
        if not futures:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self._config.send_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            msg = f"batch outputs not acknowledged: {exc!r}"
            raise DeliveryError(msg) from exc

    @staticmethod
    async def _send_letter(
        producer: AIOKafkaProducer, topic: str, letter: DeadLetter
    ) -> asyncio.Future[Any]:
        logger.info(
            "dead letter %s (%s) device=%s",
            letter.reason.value,
            letter.detail,
            letter.envelope.get("device_id"),
        )
        fut: asyncio.Future[Any] = await producer.send(
            topic, value=letter.to_json(), key=letter.kafka_key(), headers=letter.kafka_headers()
        )
        return fut

    async def _commit(self, polled: dict[TopicPartition, list[Any]]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {
            tp: msgs[-1].offset + 1 for tp, msgs in polled.items() if msgs and tp in assigned
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # partitions moved on while we worked: outputs are delivered, the new owner may redo
            # the batch and downstream de-duplication absorbs it
            logger.warning("offset commit failed after delivery (%s); batch may be redone", exc)
