"""A gateway stopped while its key database is down exits, acks nothing it could not seal, and the
next gateway delivers every held message sealed once the database is back.

``python -m gateway`` as a child process (SIGTERM as in deployment) seals ``raw.v2x`` under keys it
registers in a PRIVATE PostgreSQL (epochs of 2 s). The database is stopped until the RSUs' messages
wait for keys of new epochs, and then the gateway is stopped: it must exit (within its drain
timeout, not hang on the database) with those messages unacknowledged. A second gateway with the
same MQTT session starts after the database is back and must deliver every published message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.ports import free_port
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.services import StackAddresses
from tests.integration.erasure.keyfaults import delivered, drain_fleet, epoch_keys, prepare
from tests.integration.gateway.harness import GatewayProcess, delete_topics
from tests.integration.sinks.helpers import wait_until

pytestmark = pytest.mark.timeout(420)

EPOCH_S = 2


async def test_stop_while_the_database_is_down_then_a_restart_delivers_everything_sealed(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    pg = private_postgres
    prefix, doc, fleet = await prepare(
        stack, pg, mqtt_logins, unique_name, EPOCH_S, metrics_port=free_port()
    )
    first = GatewayProcess(doc, tmp_path / "first.log")
    second = GatewayProcess(doc, tmp_path / "second.log")  # same instance: same MQTT session
    try:
        first.start()
        await asyncio.to_thread(first.wait_ready)
        fleet.start()
        await wait_until(lambda: len(epoch_keys(pg.dsn)) >= fleet.rsus, limit_s=30)
        await asyncio.to_thread(pg.stop)
        await asyncio.sleep(2 * EPOCH_S + 1)  # the messages of the new epochs wait for keys
        fleet.stop()
        held = (await asyncio.to_thread(first.metrics))["sensegate_gateway_in_flight"]
        began = time.monotonic()
        code = await asyncio.to_thread(first.terminate, 60)  # a hang fails here (stack dump)
        exit_s = time.monotonic() - began
        log = (tmp_path / "first.log").read_text()
        await asyncio.to_thread(pg.start)
        second.start()
        await asyncio.to_thread(second.wait_ready)
        published, copies = await drain_fleet(fleet, stack.kafka_bootstrap, prefix)
        assert await asyncio.to_thread(second.terminate, 60) == 0
    finally:
        fleet.close()
        first.ensure_stopped()
        second.ensure_stopped()
        await delete_topics(stack.kafka_bootstrap, prefix)

    _, by_id, duplicates = delivered(copies, pg, fleet, EPOCH_S)
    print(
        f"[stop with db down, epoch {EPOCH_S}s] published={len(published)} "
        f"held_at_stop={held:.0f} first_exit_s={exit_s:.1f} in_kafka={len(by_id)} "
        f"duplicates={duplicates}"
    )
    assert code == 0, log[-3000:]
    assert held > 0
    # It gave up waiting for the database and left the held messages to the broker.
    assert "drain timed out" in log and "raw epoch keys not registered" in log, log[-3000:]
    assert set(by_id) == published, f"lost: {sorted(published - set(by_id))[:5]}"
