"""Idempotent aiokafka producer fed whole batches, with a timeout on every hand-over and re-creation.

The hot path hands the producer one closed batch per topic-partition (``enqueue_batch``; the
partition from the producer's own partitioner), so a burst costs one future and one timeout, not
one per record. Every attempt is bounded by ``produce_timeout_s`` (the hand-over under
``asyncio.timeout``, the wait for the cluster's ack by the caller's deadline sweeper or ``wait``):
aiokafka's idempotent producer has no delivery timeout of its own and can hang while the cluster
is unreachable (docs/reliability.md §6). A timeout or any other failure has an unknown outcome: the
caller does not ack and retries, and the producer of that epoch is replaced (a stuck idempotent
producer, e.g. OutOfOrderSequenceNumber, does not recover by itself). Records too large for Kafka
fail permanently (``retriable=False``); ``send`` puts one record in a batch of its own, so such a
refusal is pinned to the record that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from aiokafka.partitioner import DefaultPartitioner

from contracts.settings import KafkaConfig
from gateway.config import GatewayConfig
from gateway.exceptions import ProduceError, ProduceTimeoutError
from runtime.supervise import Supervisor

__all__ = ["KafkaOut", "Pending", "Record"]

logger = logging.getLogger(__name__)

_PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError)
_PARTITION_CACHE_MAX = 100_000  # keys (devices) remembered per process; cleared when exceeded

Record = tuple[bytes, bytes, Sequence[tuple[str, bytes]]]
"""key, value and headers of one record for ``enqueue_batch``."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A record accepted by the producer, waiting for the cluster's ack."""

    topic: str
    future: asyncio.Future[Any]
    epoch: int


class KafkaOut:
    """Loop-affine producer wrapper; ``start``/``stop`` idempotent, ``send`` safe from many tasks.

    Its tasks (the keeper that (re)creates the producer, the closing of a replaced one) run under
    the service's ``supervisor``; ``stop`` belongs to the service's shutdown.
    """

    def __init__(
        self,
        kafka: KafkaConfig,
        config: GatewayConfig,
        on_recreate: Callable[[], None] | None = None,
        *,
        supervisor: Supervisor,
    ) -> None:
        self._kafka = kafka
        self._cfg = config
        self._producer: AIOKafkaProducer | None = None
        self._epoch = 0
        self._ready = asyncio.Event()
        self._wanted = asyncio.Event()
        self._keeper: asyncio.Task[Any] | None = None
        self._stopping = False
        self.recreations = 0
        self._on_recreate = on_recreate
        self._supervisor = supervisor
        # The producer's own partitioner, so a record retried through ``send`` lands where its
        # batch would have; murmur2 is pure Python in aiokafka, hence the per-key cache.
        self._partitioner = DefaultPartitioner()
        self._partition_cache: dict[tuple[str, bytes], int] = {}

    @property
    def ready(self) -> bool:
        """True while a started producer is available."""
        return self._ready.is_set()

    def _make(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self._kafka.client_kwargs(),
            client_id=f"{self._cfg.effective_client_id}-producer",
            acks="all",
            enable_idempotence=True,
            linger_ms=self._cfg.linger_ms,
            # One batch per partition is in flight at a time (idempotence), so the batch size,
            # not the round trip, caps a hot partition: the 16 KiB default holds ~40 records.
            max_batch_size=self._cfg.batch_bytes,
            max_request_size=self._cfg.max_request_bytes,
            retry_backoff_ms=200,
            partitioner=self._partitioner,
        )

    async def start(self) -> None:
        """Start the keeper task that (re)creates the producer; returns without waiting for Kafka."""
        if self._keeper is None:
            self._wanted.set()
            self._keeper = self._supervisor.spawn(self._keep(), name="kafka-producer-keeper")

    async def wait_ready(self) -> None:
        """Wait until a producer is started (callers bound it with their own timeout)."""
        await self._ready.wait()

    async def _keep(self) -> None:
        backoff = self._cfg.retry_backoff_min_s
        while not self._stopping:
            await self._wanted.wait()
            if self._stopping:
                break
            producer = self._make()
            try:
                await asyncio.wait_for(producer.start(), self._cfg.produce_timeout_s)
            except Exception as exc:
                logger.warning("Kafka producer start failed: %s; retrying in %.1fs", exc, backoff)
                await self._close(producer)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._cfg.retry_backoff_max_s)
                continue
            backoff = self._cfg.retry_backoff_min_s
            self._producer = producer
            self._epoch += 1
            self._wanted.clear()
            self._ready.set()
            logger.info("Kafka producer started (epoch %d)", self._epoch)

    async def _close(self, producer: AIOKafkaProducer) -> None:
        # stop() can hang while Kafka is unreachable; give up after the produce timeout.
        try:
            await asyncio.wait_for(producer.stop(), self._cfg.produce_timeout_s)
        except Exception as exc:
            logger.warning("Kafka producer stop failed: %s", exc)

    def _invalidate(self, epoch: int, reason: str) -> None:
        if epoch != self._epoch or not self._ready.is_set() or self._stopping:
            return
        old = self._producer
        self._producer = None
        self._ready.clear()
        self._partition_cache.clear()
        self.recreations += 1
        if self._on_recreate is not None:
            self._on_recreate()
        logger.warning("re-creating the Kafka producer (epoch %d): %s", epoch, reason)
        if old is not None:
            self._supervisor.spawn(self._close(old), name="kafka-producer-close", ends="any")
        self._wanted.set()

    async def wait(self, pending: Pending) -> None:
        """Wait for the cluster's ack of an enqueued record; raises ProduceError on any failure."""
        try:
            await asyncio.wait_for(pending.future, self._cfg.produce_timeout_s)
        except Exception as exc:
            raise self.failure(exc, pending.topic, pending.epoch) from exc

    async def send(
        self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Produce one record in a batch of its own and wait for the cluster's ack.

        Alone, so a record Kafka refuses (too large for the topic) fails only itself, not the
        records that would otherwise share its batch. Raises ProduceError on any failure.
        """
        partition = await self.partition(topic, key)
        pending, _ = await self.enqueue_batch(topic, partition, [(key, value, headers)])
        await self.wait(pending)

    def failure(self, exc: BaseException, topic: str, epoch: int) -> ProduceError:
        """Classify a failed attempt (re-creating the producer of ``epoch`` unless permanent)."""
        if isinstance(exc, _PERMANENT):
            err = ProduceError(f"record for {topic} too large for Kafka: {exc}")
            err.retriable = False
            return err
        if isinstance(exc, TimeoutError):
            self._invalidate(epoch, "send timed out")
            return ProduceTimeoutError(
                f"send to {topic} timed out after {self._cfg.produce_timeout_s}s"
            )
        self._invalidate(epoch, f"{type(exc).__name__}: {exc}")
        return ProduceError(f"send to {topic} failed: {type(exc).__name__}: {exc}")

    async def partition(self, topic: str, key: bytes) -> int:
        """The partition a key lands in (the producer's default partitioner, cached per key)."""
        cache = self._partition_cache
        found = cache.get((topic, key))
        if found is not None:
            return found
        partitions = sorted(await self.partitions(topic))
        if not partitions:  # not expected from Kafka metadata; the slow path retries
            msg = f"no partitions known for {topic}"
            raise ProduceError(msg)
        if len(cache) >= _PARTITION_CACHE_MAX:
            cache.clear()
        result: int = self._partitioner(key, partitions, partitions)
        cache[topic, key] = result
        return result

    async def partitions(self, topic: str) -> set[int]:
        """The topic's partitions (waits for metadata, bounded by the produce timeout)."""
        epoch = self._epoch
        try:
            async with asyncio.timeout(self._cfg.produce_timeout_s):
                producer, epoch = await self._started()
                found: set[int] = await producer.partitions_for(topic)
                return found
        except Exception as exc:
            raise self.failure(exc, topic, epoch) from exc

    async def enqueue_batch(
        self, topic: str, partition: int, records: Sequence[Record]
    ) -> tuple[Pending, int]:
        """Hand the leading records that fit one batch to the producer; returns it and their count.

        One future for the whole batch instead of one per record; at least one record is taken
        (an oversized one alone). Records of one call keep their order. Raises ProduceError like
        ``send``; then none of the records was handed over.
        """
        epoch = self._epoch
        try:
            async with asyncio.timeout(self._cfg.produce_timeout_s):
                producer, epoch = await self._started()
                batch = producer.create_batch()
                taken = 0
                for key, value, headers in records:
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        break
                    taken += 1
                batch.close()  # complete: sent without waiting for the linger time
                future = await producer.send_batch(batch, topic, partition=partition)
        except Exception as exc:
            raise self.failure(exc, topic, epoch) from exc
        return Pending(topic, future, epoch), taken

    async def _started(self) -> tuple[AIOKafkaProducer, int]:
        # The current producer and its epoch, waiting while it is being (re-)created.
        while self._producer is None:
            await self._ready.wait()
        return self._producer, self._epoch

    async def stop(self) -> None:
        """Flush and stop the producer (bounded by the produce timeout); idempotent."""
        if self._stopping:
            return
        self._stopping = True
        self._wanted.set()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        producer, self._producer = self._producer, None
        self._ready.clear()
        if producer is not None:
            await self._close(producer)
