"""Messages waiting for a raw key the database cannot give yet: parked, sealed together, sent in batches.

While the key database is failing, the dispatch loop parks the messages that need a new key here
instead of giving each a retry task of its own. One task tries the database for all of them, with
backoff, and hands them back to the batch path once sealed. After an outage, hundreds of held
messages then leave in a few batches, not as hundreds of one-record sends that queue behind each
other per partition (they outlasted the producer's timeout and made it re-create itself).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from gateway.forward import Outgoing
from gateway.sealing import KeyUnavailable, RawSealer

__all__ = ["KeyWait", "Parked"]


class Parked(Protocol):
    """What a parked message must offer: its record, and who completes it."""

    record: Outgoing
    owned: bool


F = TypeVar("F", bound=Parked)


class KeyWait(Generic[F]):
    """Parked messages of one gateway and the task that seals them; loop-affine."""

    def __init__(
        self,
        sealer: RawSealer,
        send: Callable[[list[F]], Awaitable[None]],
        end: Callable[[F], None],
        on_error: Callable[[KeyUnavailable], None],
        backoff_s: tuple[float, float],
    ) -> None:
        self._sealer = sealer
        self._send = send  # the batch path; completes or re-routes what it takes
        self._end = end  # releases a message left unacknowledged
        self._on_error = on_error
        self._backoff = backoff_s
        self._parked: list[F] = []
        self._wanted = asyncio.Event()

    @property
    def parked(self) -> int:
        """Messages waiting for their key."""
        return len(self._parked)

    def park(self, flights: list[F]) -> None:
        """Hold ``flights`` (owned from now on) until their keys can be registered."""
        for flight in flights:
            flight.owned = True
        self._parked += flights
        self._wanted.set()

    async def run(self) -> None:
        """Seal and send what is parked, retrying the database with backoff; ends parked on exit."""
        low, high = self._backoff
        backoff = low
        try:
            while True:
                await self._wanted.wait()
                self._wanted.clear()
                n = len(self._parked)
                if not n:
                    continue
                ready, waiting = await self._seal(self._parked[:n])
                del self._parked[:n]
                self._parked[:0] = waiting  # ahead of what was parked meanwhile: arrival order
                if ready:
                    await self._hand_back(ready)
                if waiting:
                    await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                    backoff = min(backoff * 2, high)
                    self._wanted.set()
                else:
                    backoff = low
        finally:
            # Shutdown: left unacknowledged; the broker redelivers them to the next session.
            for flight in self._parked:
                self._end(flight)
            self._parked.clear()

    async def _seal(self, flights: list[F]) -> tuple[list[F], list[F]]:
        """(sealed, still waiting): all together, or one by one when a key is destroyed.

        The database answered then, and a redelivery of a shredded epoch holds up only itself.
        """
        try:
            sealed = await self._sealer.seal([f.record for f in flights])
        except KeyUnavailable as exc:
            self._on_error(exc)
            if self._sealer.failing or len(flights) == 1:
                return [], flights
            ready, waiting = [], []
            for flight in flights:
                try:
                    flight.record = (await self._sealer.seal([flight.record]))[0]
                except KeyUnavailable:
                    waiting.append(flight)
                else:
                    ready.append(flight)
            return ready, waiting
        for flight, record in zip(flights, sealed, strict=True):
            flight.record = record
        return flights, []

    async def _hand_back(self, flights: list[F]) -> None:
        for flight in flights:
            flight.owned = False  # the batch path owns it once it takes it
        try:
            await self._send(flights)
        except BaseException:
            for flight in flights:
                if not flight.owned:
                    self._end(flight)
            raise
