"""Messages waiting for a raw key: retried with backoff while the database refuses, released at stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.forward import Outgoing
from gateway.key_wait import KeyWait
from gateway.sealing import KeyUnavailable, RawSealer
from tests.unit.gateway.test_sealing import NOWHERE, _record


@dataclass
class Flight:
    record: Outgoing
    owned: bool = False


async def test_parked_messages_wait_while_the_database_refuses_and_are_released_at_stop() -> None:
    sealer = RawSealer(["v2x"], 3600, NOWHERE, timeout_s=5.0)
    sent: list[list[Flight]] = []
    ended: list[Flight] = []
    errors: list[KeyUnavailable] = []
    tried_thrice = asyncio.Event()

    async def send(flights: list[Flight]) -> None:
        sent.append(flights)

    def on_error(exc: KeyUnavailable) -> None:
        errors.append(exc)
        if len(errors) == 3:
            tried_thrice.set()

    wait = KeyWait[Flight](sealer, send, ended.append, on_error, (0.01, 0.02))
    flights = [Flight(_record("v2x")) for _ in range(3)]
    wait.park(flights)
    assert all(f.owned for f in flights) and wait.parked == 3
    task = asyncio.create_task(wait.run())
    await asyncio.wait_for(tried_thrice.wait(), 30)  # tried again and again, with backoff
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # Never sent (nothing sealed), each released exactly once for redelivery, in arrival order.
    assert sent == [] and ended == flights and wait.parked == 0
    await sealer.close()


async def test_parked_messages_that_need_no_new_key_go_to_the_batch_path() -> None:
    sealer = RawSealer(["v2x"], 3600, NOWHERE, timeout_s=5.0)
    sent: list[list[Flight]] = []
    done = asyncio.Event()

    async def send(flights: list[Flight]) -> None:
        sent.append(flights)
        done.set()

    wait = KeyWait[Flight](sealer, send, lambda f: None, lambda e: None, (0.01, 0.02))
    flights = [Flight(_record("agri")), Flight(_record("v2x", sealed=True))]
    wait.park(flights)
    task = asyncio.create_task(wait.run())
    await asyncio.wait_for(done.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sent == [flights] and not any(f.owned for f in flights)
    await sealer.close()
