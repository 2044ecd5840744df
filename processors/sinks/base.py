"""The sink contract: records are added one at a time and written by ``flush``.

Guarantees every sink gives: ``add`` only buffers and never touches the store; ``flush`` writes
everything added since the previous flush in one atomic unit together with the input positions,
retries transient failures itself and, when it returns, the store holds each added record exactly
once (by record identity) or its dead letter has been delivered; ``close`` is never called while a
flush runs and is idempotent. A sink is bound to one event loop and is not safe for concurrent
``flush`` calls on the same instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from contracts.dead_letter import DeadLetter

__all__ = ["DeadLetterWriter", "FlushResult", "Sink", "SinkInput", "TopicPartition"]

TopicPartition = tuple[str, int]

# Delivers dead letters and returns only when they are durable (called before the store commits).
DeadLetterWriter = Callable[[Sequence[DeadLetter]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SinkInput:
    """One consumed record: its Kafka coordinates and raw key/value bytes."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class FlushResult:
    """What one flush did; ``seek_to`` lists positions the consumer must move to."""

    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: list[DeadLetter] = field(default_factory=list)
    seek_to: dict[TopicPartition, int] = field(default_factory=dict)
    retries: int = 0
    gaps: int = 0  # offset gaps found (each dead-lettered as offset_gap)


class Sink(ABC):
    """Buffered, exactly-once writer of consumed records (see module docstring)."""

    @abstractmethod
    def add(self, item: SinkInput) -> None:
        """Buffer one record for the next flush."""

    @abstractmethod
    async def flush(self) -> FlushResult:
        """Write the buffered records atomically with their offsets."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; idempotent."""
