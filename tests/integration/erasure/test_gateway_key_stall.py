"""The gateway's key database stops answering (no error, no reset): only the sealed family waits.

As ``test_gateway_key_faults.py`` (a private PostgreSQL, four RSUs at QoS 1, 2 s epochs), plus a
publisher of an unsealed family (agri) on the same gateway. For 30 s the tests stop (SIGSTOP) the
server process of the gateway's key connection, as a dead link would leave it, or the whole
server; then they resume it. A hung registration is given up after the produce timeout: with only
the connection hung the gateway opens another one and both families flow; with the whole server
hung the V2X messages of new epochs wait (never in clear) and agri flows. Afterwards every
message of both families is in Kafka, each V2X copy sealed under its (device, epoch) key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from contracts.topics import raw_topic
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.services import StackAddresses
from tests.integration.erasure.keyfaults import (
    EpochKey,
    Fleet,
    RawCopy,
    delivered,
    drain_fleet,
    epoch_of,
    idle_key_backend,
    key_backends,
    prepare,
    read_raw,
    server_pids,
)
from tests.integration.gateway.harness import (
    Publisher,
    delete_topics,
    id_of,
    in_process_gateway,
    payload_for,
)
from tests.integration.sinks.helpers import wait_until

pytestmark = pytest.mark.timeout(420)

EPOCH_S = 2
STALL_S = 30.0
AGRI_APP, AGRI_RATE = "keyfaults", 10.0


def _agri_items(n: int) -> list[tuple[str, bytes, str]]:
    return [
        (f"application/{AGRI_APP}/device/soil{i % 3}/event/up", payload_for(f"ag{i}"), f"ag{i}")
        for i in range(n)
    ]


def _signal(pids: list[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each process still there (a backend may have just ended)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Stall:
    """What one stalled run saw."""

    fleet: Fleet
    published: set[str]
    v2x: list[RawCopy]
    agri_sent: set[str]
    agri: list[RawCopy]
    agri_sent_during: int
    stopped_at: datetime
    resumed_at: datetime
    reopened_s: float | None  # seconds until a new key connection (None: none while stopped)
    producer_recreated: float  # Kafka producer re-creations of the gateway

    def during(self, copies: list[RawCopy]) -> list[RawCopy]:
        """The copies Kafka took while the processes were stopped."""
        lo, hi = self.stopped_at.timestamp() * 1e3, self.resumed_at.timestamp() * 1e3
        return [c for c in copies if lo < c.timestamp_ms < hi]


async def _stalled_run(
    stack: StackAddresses,
    pg: PrivatePostgres,
    logins: MqttLogins,
    unique_name: Callable[[str], str],
    freeze: Callable[[], list[int]],
) -> Stall:
    """Stream both families, SIGSTOP the processes ``freeze`` names for STALL_S, then read back."""
    prefix, doc, fleet = await prepare(stack, pg, logins, unique_name, EPOCH_S)
    doc["gateway"]["subscriptions"] += [f"application/{AGRI_APP}/device/+/event/+"]
    agri = Publisher(logins.publisher, unique_name("ag"))
    halt = threading.Event()
    stopped: list[int] = []
    reopened_s = None
    try:
        async with in_process_gateway(doc) as gw:
            fleet.start()
            agri.stream(_agri_items(int(AGRI_RATE * 180)), AGRI_RATE, halt)
            await wait_until(lambda: idle_key_backend(pg.dsn) is not None, limit_s=30)
            stopped = freeze()
            _signal(stopped, signal.SIGSTOP)
            stopped_at, agri_before = _now(), len(agri.infos)
            if len(stopped) == 1:  # only the key connection: the gateway opens another one
                await wait_until(
                    lambda: bool(set(key_backends(pg.dsn)) - set(stopped)), limit_s=STALL_S - 5
                )
                reopened_s = (_now() - stopped_at).total_seconds()
            await asyncio.sleep(STALL_S - (_now() - stopped_at).total_seconds())
            resumed_at, agri_during = _now(), len(agri.infos) - agri_before
            _signal(stopped, signal.SIGCONT)
            stopped = []
            await asyncio.sleep(2 * EPOCH_S)
            halt.set()
            published, v2x = await drain_fleet(fleet, stack.kafka_bootstrap, prefix)
            agri_sent = {msg_id for msg_id, _ in agri.infos}
            agri_copies = await read_raw(
                stack.kafka_bootstrap, raw_topic(prefix, "agri"), len(agri_sent)
            )
            assert gw.supervisor.healthy and gw.ready
            recreated = gw.metrics.registry.get_sample_value(
                "sensegate_gateway_producer_recreated_total"
            )
    finally:
        _signal(stopped, signal.SIGCONT)
        halt.set()
        agri.close()
        fleet.close()
        await delete_topics(stack.kafka_bootstrap, prefix)
    return Stall(
        fleet, published, v2x, agri_sent, agri_copies, agri_during, stopped_at, resumed_at,
        reopened_s, recreated or 0.0,
    )  # fmt: skip


def _check_all_delivered(
    name: str, run: Stall, pg: PrivatePostgres
) -> dict[tuple[str, int], EpochKey]:
    keys, by_id, duplicates = delivered(run.v2x, pg, run.fleet, EPOCH_S)
    agri_ids = Counter(id_of(c.value) for c in run.agri)
    reopened = "-" if run.reopened_s is None else f"{run.reopened_s:.1f}s"
    print(
        f"[{name} stopped {STALL_S:.0f}s, epoch {EPOCH_S}s] published={len(run.published)} "
        f"in_kafka={len(by_id)} duplicates={duplicates} "
        f"reopened_after={reopened} v2x_produced_during_stall={len(run.during(run.v2x))} "
        f"agri_sent={len(run.agri_sent)} agri_sent_during_stall={run.agri_sent_during} "
        f"agri_produced_during_stall={len(run.during(run.agri))} "
        f"agri_duplicates={sum(n - 1 for n in agri_ids.values())} "
        f"producer_recreated={run.producer_recreated:.0f}"
    )
    assert set(by_id) == run.published, f"lost: {sorted(run.published - set(by_id))[:5]}"
    assert set(agri_ids) == run.agri_sent
    return keys


async def test_key_connection_that_stops_answering_is_abandoned_and_reopened(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
) -> None:
    """Only the key connection's server process stops: the gateway opens another connection."""
    pg = private_postgres

    def backend() -> list[int]:
        pid = idle_key_backend(pg.dsn)
        assert pid is not None
        return [pid]

    run = await _stalled_run(stack, pg, mqtt_logins, unique_name, backend)
    keys = _check_all_delivered("key backend", run, pg)
    # Both families kept flowing while the stopped process held the old connection, the sealed
    # one under keys registered on the new connection.
    assert run.reopened_s is not None
    assert any(keys[epoch_of(c, EPOCH_S)].created_at > run.stopped_at for c in run.during(run.v2x))
    assert run.during(run.agri)


async def test_hung_database_holds_up_only_the_sealed_family(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
) -> None:
    """The whole server stops: V2X of new epochs waits (never in clear); agri flows meanwhile."""
    pg = private_postgres
    run = await _stalled_run(stack, pg, mqtt_logins, unique_name, lambda: server_pids(pg))
    keys = _check_all_delivered("whole server", run, pg)
    # Nothing sealed under a key registered during the stall (none could be), nothing in clear
    # (open_copies), and most of the unsealed family's messages went through meanwhile.
    assert all(keys[epoch_of(c, EPOCH_S)].created_at < run.stopped_at for c in run.during(run.v2x))
    assert len(run.during(run.agri)) >= run.agri_sent_during / 2
    # The V2X messages held meanwhile left in batches once their keys came, not as a queue of
    # one-record sends (which outlasted the producer's timeout and re-created it).
    assert run.producer_recreated == 0
