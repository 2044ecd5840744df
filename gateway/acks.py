"""Ordered acknowledgement: a watermark over the FIFO of received messages of one MQTT connection.

A message is acknowledged (PUBACK) only when it and every message received before it on the same
connection are complete (safely in Kafka or in the dead-letter topic). This keeps PUBACKs in
receive order (MQTT-4.6.0-2) however produce completions interleave.

Packet ids (mids) belong to one network connection. When the connection changes, the entries of
the old connection become orphans: they are never acknowledged (the broker redelivers them on the
new connection, which may duplicate them in Kafka: window W3 of docs/reliability.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AckFn", "AckTracker", "Ticket"]

# ack(generation, mid, qos) -> True when a PUBACK was queued on that connection.
AckFn = Callable[[int, int, int], bool]


@dataclass(slots=True, eq=False)
class Ticket:
    """Ack bookkeeping of one received message."""

    generation: int
    mid: int
    qos: int
    done: bool = field(default=False)


class AckTracker:
    """Releases acks in receive order; loop-affine (not thread-safe), pure apart from ``ack``."""

    def __init__(self, ack: AckFn) -> None:
        self._ack = ack
        self._generation = 0
        self._fifo: deque[Ticket] = deque()
        self._orphans = 0
        self.acked = 0
        self.orphaned = 0

    @property
    def generation(self) -> int:
        """Connection generation whose messages can still be acknowledged."""
        return self._generation

    @property
    def pending(self) -> int:
        """Messages received but not yet released (current connection plus orphans)."""
        return len(self._fifo) + self._orphans

    def begin_generation(self, generation: int) -> None:
        """A new connection started: earlier unacknowledged entries become orphans."""
        if generation == self._generation:
            return
        stale = sum(1 for t in self._fifo if not t.done)
        self._orphans += stale
        self.orphaned += len(self._fifo)
        self._fifo.clear()
        self._generation = generation

    def add(self, generation: int, mid: int, qos: int) -> Ticket:
        """Register a message in receive order and return its ticket."""
        if generation > self._generation:
            self.begin_generation(generation)
        ticket = Ticket(generation, mid, qos)
        if generation < self._generation:
            # Arrived from a connection already replaced: it can never be acked.
            self._orphans += 1
            self.orphaned += 1
        else:
            self._fifo.append(ticket)
        return ticket

    def complete(self, ticket: Ticket) -> int:
        """Mark a message safe and release every ack the watermark allows; returns acks sent."""
        if ticket.done:
            return 0
        ticket.done = True
        if ticket.generation != self._generation:
            self._orphans -= 1
            return 0
        released = 0
        fifo = self._fifo
        while fifo and fifo[0].done:
            head = fifo.popleft()
            if head.qos > 0 and self._ack(head.generation, head.mid, head.qos):
                released += 1
        self.acked += released
        return released

    def abandon(self, ticket: Ticket) -> None:
        """Forget an orphan that will not complete (the broker redelivers it)."""
        if not ticket.done and ticket.generation != self._generation:
            ticket.done = True
            self._orphans -= 1
