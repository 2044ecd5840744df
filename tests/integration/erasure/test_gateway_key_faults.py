"""The gateway's raw-key database fails while an RSU fleet publishes: nothing lost, nothing in clear.

A gateway seals ``raw.v2x`` under per-(device, epoch) keys that it registers in a PRIVATE
PostgreSQL (``tests.fixtures.private_pg``, migrated like the stack, the gateway logging in as
``sensegate_gateway``), with epochs of a few seconds. Four RSUs publish RSMs at QoS 1 on the
stack's Mosquitto; the raw topic is on the stack's Kafka. The tests stop the database across
several epoch changes, or kill the gateway's key connection, and then read ``raw.v2x`` back: every
published message is there (duplicates counted and printed), every copy is a ``sg1.`` token with
``sg.seal`` that opens with the key registered for its device and epoch, and the gateway kept
running. Nothing was acknowledged before Kafka had it sealed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from gateway.app import Gateway
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.services import StackAddresses
from tests.integration.erasure.keyfaults import (
    SCHEMA,
    Fleet,
    delivered,
    drain_fleet,
    epoch_keys,
    epoch_of,
    key_backends,
    prepare,
)
from tests.integration.gateway.harness import delete_topics, in_process_gateway
from tests.integration.sinks.helpers import wait_until

pytestmark = pytest.mark.timeout(420)

EPOCH_S = 2
DOWN_S = 3 * EPOCH_S + 1  # at least three epoch changes while the database is down
RETRY_LOGGED = "raw epoch keys not registered"


def _sample(gw: Gateway, name: str, **labels: str) -> float:
    """One of the in-process gateway's metrics."""
    return gw.metrics.registry.get_sample_value(f"sensegate_gateway_{name}", labels) or 0.0


def _now() -> datetime:
    return datetime.now(UTC)


async def test_database_down_across_epochs_loses_nothing_and_sends_nothing_in_clear(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pg = private_postgres
    prefix, doc, fleet = await prepare(stack, pg, mqtt_logins, unique_name, EPOCH_S)
    caplog.set_level(logging.WARNING, logger="gateway.app")
    try:
        async with in_process_gateway(doc) as gw:
            fleet.start()
            await wait_until(lambda: len(epoch_keys(pg.dsn)) >= fleet.rsus, limit_s=30)
            await asyncio.sleep(EPOCH_S)
            await asyncio.to_thread(pg.stop)
            down_from = _now()  # from here until up_at no key can be registered
            await asyncio.sleep(DOWN_S)
            # What the gateway released to the broker (its PUBACKs) and still holds, just before
            # the database comes back (the broker's PUBACKs to the RSUs say nothing of this).
            released_down, held_down = _sample(gw, "acknowledged_total"), _sample(gw, "in_flight")
            up_at = _now()
            await asyncio.to_thread(pg.start)
            await asyncio.sleep(2 * EPOCH_S)  # the fleet keeps publishing after the restart
            published, copies = await drain_fleet(fleet, stack.kafka_bootstrap, prefix)
            acked = fleet.acked()
            # The gateway task lived through it: still supervised healthy and taking messages.
            assert gw.supervisor.healthy and gw.ready
    finally:
        fleet.close()
        await delete_topics(stack.kafka_bootstrap, prefix)

    keys, by_id, duplicates = delivered(copies, pg, fleet, EPOCH_S)
    print(
        f"[db down {DOWN_S}s, epoch {EPOCH_S}s] published={len(published)} acked={len(acked)} "
        f"in_kafka={len(by_id)} duplicates={duplicates} released_while_down={released_down:.0f} "
        f"keys={len(keys)} held_at_restart={held_down:.0f}"
    )
    assert acked == published
    assert set(by_id) == published, f"lost: {sorted(published - set(by_id))[:5]}"
    # Several epochs began while the database was down; their keys were registered after it
    # came back, and the gateway logged the failed registrations it retried meanwhile.
    down_ns = (int(down_from.timestamp() * 1e9), int(up_at.timestamp() * 1e9))
    down_epochs = {start for (_, start) in keys if down_ns[0] < start < down_ns[1]}
    assert len(down_epochs) >= 2, down_epochs
    for (_, start), key in keys.items():
        if start > down_ns[0]:
            assert key.created_at >= up_at
    assert any(RETRY_LOGGED in r.getMessage() for r in caplog.records)
    # While it was down only keys registered before were used (nothing else reached Kafka), the
    # gateway held the rest unacknowledged, and it released no more PUBACKs than messages sealed
    # under such keys.
    produced_down = [c for c in copies if down_ns[0] / 1e6 < c.timestamp_ms < down_ns[1] / 1e6]
    assert all(keys[epoch_of(c, EPOCH_S)].created_at < down_from for c in produced_down)
    early = {
        msg_id for msg_id, found in by_id.items()
        if any(keys[epoch_of(c, EPOCH_S)].created_at < down_from for c in found)
    }  # fmt: skip
    assert held_down > 0
    assert released_down <= len(early)


def _terminate(dsn: str, pid: int) -> bool:
    """pg_terminate_backend as the private server's superuser."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
    return bool(row and row[0])


KILLS = 3


async def test_killed_key_connection_is_reopened_for_the_next_epoch(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
) -> None:
    pg = private_postgres
    prefix, doc, fleet = await prepare(stack, pg, mqtt_logins, unique_name, EPOCH_S)
    killed: list[int] = []
    try:
        async with in_process_gateway(doc) as gw:
            fleet.start()
            for _ in range(KILLS):
                # the connection the gateway registers its keys on (a new one after each kill)
                await wait_until(lambda: bool(set(key_backends(pg.dsn)) - set(killed)), limit_s=30)
                pid = next(p for p in key_backends(pg.dsn) if p not in killed)
                assert await asyncio.to_thread(_terminate, pg.dsn, pid)
                killed.append(pid)
                last_kill = _now()
                await asyncio.sleep(EPOCH_S + 0.5)  # the next epoch needs new keys
            await wait_until(lambda: bool(set(key_backends(pg.dsn)) - set(killed)), limit_s=30)
            await asyncio.sleep(EPOCH_S)
            published, copies = await drain_fleet(fleet, stack.kafka_bootstrap, prefix)
            assert gw.supervisor.healthy and gw.ready
            errors = _sample(gw, "produce_errors_total", kind="error")
    finally:
        fleet.close()
        await delete_topics(stack.kafka_bootstrap, prefix)

    keys, by_id, duplicates = delivered(copies, pg, fleet, EPOCH_S)
    after = [k for k in keys.values() if k.created_at > last_kill]
    print(
        f"[key connection killed x{KILLS}, epoch {EPOCH_S}s] published={len(published)} "
        f"in_kafka={len(by_id)} duplicates={duplicates} keys={len(keys)} "
        f"keys_after_last_kill={len(after)} backends_killed={len(killed)} "
        f"failed_sends={errors:.0f}"
    )
    assert set(by_id) == published, f"lost: {sorted(published - set(by_id))[:5]}"
    assert after, "no key registered after the key connection was killed"
    # The registration found its connection closed and wrote again on a new one at once: no
    # message took the retry path.
    assert errors == 0


def _destroy_keys(dsn: str, device: str, epoch_s: int) -> None:
    """Register ``device``'s keys of this epoch and the next as already destroyed (as after an
    erasure's shred-raw), before the gateway first needs them."""
    now = time.time_ns()
    epoch_ns = epoch_s * 1_000_000_000
    first = now - now % epoch_ns
    with psycopg.connect(dsn) as conn:
        for start in (first, first + epoch_ns):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.raw_epoch_key (family, device_id, epoch_start_ns, epoch_end_ns, "
                    "data_key, shred_requested_at, destroyed_at, legal_basis) "
                    "VALUES ('v2x', %s, %s, %s, NULL, now(), now(), 'test: shredded epoch')"
                ).format(sql.Identifier(SCHEMA)),
                (device, start, start + epoch_ns),
            )


async def test_a_destroyed_epoch_key_holds_up_only_its_own_messages(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
) -> None:
    """Two RSUs publish in bursts (their messages share the gateway's batches); one's key is
    destroyed. Its messages wait, never in clear; the other's all arrive sealed."""
    pg = private_postgres
    epoch_s = 3600  # the whole test in this epoch or the next, both destroyed for the first RSU
    prefix, doc, _ = await prepare(
        stack, pg, mqtt_logins, unique_name, epoch_s, session_expiry_s=120
    )
    fleet = Fleet(mqtt_logins.publisher, unique_name("fl"), rsus=2, rate=100.0, max_s=3.0)
    shredded = f"{fleet.name}-rsu0"
    await asyncio.to_thread(_destroy_keys, pg.dsn, shredded, epoch_s)
    try:
        async with in_process_gateway(doc) as gw:
            fleet.start()
            await asyncio.sleep(fleet.max_s + 1)  # every burst published
            published, copies = await drain_fleet(
                fleet, stack.kafka_bootstrap, prefix,
                lambda ids: sum(not i.startswith(f"{shredded}-") for i in ids),
            )  # fmt: skip
            held = _sample(gw, "in_flight")
            assert gw.supervisor.healthy and gw.ready
    finally:
        fleet.close()
        await delete_topics(stack.kafka_bootstrap, prefix)

    _, by_id, duplicates = delivered(copies, pg, fleet, epoch_s)
    mine = {m for m in published if m.startswith(f"{shredded}-")}
    print(
        f"[destroyed key] published={len(published)} of_the_shredded_rsu={len(mine)} "
        f"in_kafka={len(by_id)} duplicates={duplicates} held={held:.0f}"
    )
    assert mine and not mine & set(by_id), "sealed under a destroyed key?"
    assert set(by_id) == published - mine, f"held up: {sorted(published - mine - set(by_id))[:5]}"
    assert held >= len(mine)  # its own, and (acks leave in order) most others behind them
