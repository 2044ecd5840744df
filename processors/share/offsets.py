"""Offsets of the share service: what may be committed, pruned on revocation, and bounded waits.

Why a separate book: after a rebalance the consumer no longer owns some partitions, and committing
an offset for one of them fails (``CommitFailedError``) and used to crash the service. The book
forgets a partition as soon as it is revoked, commits only partitions in the current assignment,
and treats a commit refused during a rebalance as "not committed" (the new owner re-reads those
records: at-least-once, platform consumers dedupe on record id). Produce acknowledgements are
awaited with a timeout so a stalled broker cannot hang the loop forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from processors.exceptions import ProcessorError

__all__ = ["OffsetBook", "ShareDeliveryError", "await_acks"]

logger = logging.getLogger(__name__)

_Key = tuple[str, int]


class ShareDeliveryError(ProcessorError):
    """Outputs were not acknowledged in time; nothing is committed (retriable by a restart)."""

    retriable = True


async def await_acks(futures: Iterable[Awaitable[Any]], timeout_s: float) -> None:
    """Wait for every produce acknowledgement, at most ``timeout_s``; ShareDeliveryError otherwise."""
    pending = list(futures)
    if not pending:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
    except TimeoutError as exc:
        msg = f"{len(pending)} share outputs not acknowledged within {timeout_s:.0f} s"
        raise ShareDeliveryError(msg) from exc
    except KafkaError as exc:
        msg = f"share outputs not acknowledged: {exc!r}"
        raise ShareDeliveryError(msg) from exc


class OffsetBook(ConsumerRebalanceListener):  # type: ignore[misc]
    """Next offset per owned partition; a revoked partition is forgotten at once."""

    def __init__(self) -> None:
        self.processed: dict[_Key, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self.refused = 0  # commits refused by a rebalance (records re-read by the new owner)

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Forget revoked partitions: their offsets belong to the next owner now."""
        self.forget(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Nothing to do: committed Kafka offsets are where the consumer resumes."""

    def forget(self, revoked: Iterable[TopicPartition]) -> None:
        """Drop every offset of ``revoked``."""
        for tp in revoked:
            self.processed.pop((tp.topic, tp.partition), None)
            self._committed.pop(tp, None)

    def advance(self, topic: str, partition: int, offset: int) -> None:
        """Record that ``offset`` of the partition was processed."""
        self.processed[(topic, partition)] = offset + 1

    def due(
        self, held: Mapping[_Key, int], assignment: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Offsets to commit now: owned partitions only, never past a record a window holds."""
        owned = {(tp.topic, tp.partition) for tp in assignment}
        offsets = {
            TopicPartition(*key): min(offset, held.get(key, offset))
            for key, offset in self.processed.items()
            if key in owned
        }
        return {tp: o for tp, o in offsets.items() if self._committed.get(tp) != o}

    async def commit(self, consumer: Any, held: Mapping[_Key, int]) -> int:
        """Commit what is due; a commit refused by a rebalance is logged, not raised."""
        offsets = self.due(held, consumer.assignment())
        if not offsets:
            return 0
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            self.refused += 1
            logger.warning("offset commit refused during a rebalance (re-read later): %s", exc)
            return 0
        self._committed.update(offsets)
        return len(offsets)
