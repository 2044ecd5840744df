"""Deadline sweeper: one timer for many in-flight produce attempts instead of one per message.

Every attempt gets the same timeout, so deadlines are monotonic in insertion order and a FIFO is
enough: ``expired(now)`` pops from the head only. Settled attempts are dropped when they reach the
head (``prune``, called by the owner after settling), so settling is amortised O(1), needs no
timer, and the FIFO stays about as long as the in-flight window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Attempt", "DeadlineSweeper"]

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Attempt(Generic[T]):
    """One bounded attempt: ``settled`` once its outcome (result or timeout) was taken."""

    item: T
    deadline: float
    settled: bool = field(default=False)


class DeadlineSweeper(Generic[T]):
    """FIFO of attempts with a fixed timeout; pure (the caller supplies the clock)."""

    def __init__(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            msg = "timeout_s must be positive"
            raise ValueError(msg)
        self.timeout_s = timeout_s
        self._fifo: deque[Attempt[T]] = deque()

    def __len__(self) -> int:
        """Attempts still queued (settled ones not yet dropped included)."""
        return len(self._fifo)

    def add(self, item: T, now: float) -> Attempt[T]:
        """Start the clock of an attempt; ``now`` must not go backwards between calls."""
        attempt = Attempt(item, now + self.timeout_s)
        self._fifo.append(attempt)
        return attempt

    def expired(self, now: float) -> list[Attempt[T]]:
        """Unsettled attempts whose deadline passed, oldest first; they are marked settled."""
        out: list[Attempt[T]] = []
        fifo = self._fifo
        while fifo and (fifo[0].settled or fifo[0].deadline <= now):
            attempt = fifo.popleft()
            if not attempt.settled:
                attempt.settled = True
                out.append(attempt)
        return out

    def prune(self) -> None:
        """Drop settled attempts from the head (they hold their items until dropped)."""
        fifo = self._fifo
        while fifo and fifo[0].settled:
            fifo.popleft()

    def next_deadline(self) -> float | None:
        """Deadline of the oldest unsettled attempt, or None when nothing is pending."""
        self.prune()
        return self._fifo[0].deadline if self._fifo else None
