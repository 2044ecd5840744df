"""F09 / W6: the gateway unreachable for longer than its MQTT session expiry.

The gateway runs with keep-alive 5 s and session expiry 3 s and is frozen (SIGSTOP): the broker
drops the connection after 1.5 x keep-alive and discards the session 3 s later. Messages published
then match no subscription and are gone: the broker answers PUBACK 0x10 "no matching subscribers"
(a success code for the device). When the gateway runs again it reconnects without a session
(``session_present = 0``) and raises its alarm, ``sensegate_gateway_mqtt_session_lost_total``
(rule ``GatewaySessionLost`` in stack/alerts.yml). The test counts the loss exactly (every message
published while the session was gone, none other) and checks the alarm.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import GatewayProcess, Publisher, read_kafka
from tests.integration.gateway.test_gateway_faults import _v2x_gateway, v2x_stream, wait_until

pytestmark = pytest.mark.fault

KEEPALIVE_S, EXPIRY_S = 5, 3


def ids_of(items: list[tuple[str, bytes, str]]) -> set[str]:
    """The message ids of a stream."""
    return {msg_id for _, _, msg_id in items}


def test_f09_gateway_away_beyond_session_expiry_is_alarmed_and_the_loss_counted(
    stack: StackAddresses, prefix: str, unique_name: Callable[[str], str], tmp_path: Path,
    mqtt_logins: MqttLogins,
) -> None:  # fmt: skip
    """Before: all stored. Session gone: all lost, alarm 1. After reconnect: all stored."""
    tok = unique_name("x")[-8:]
    doc = _v2x_gateway(mqtt_logins.gateway, stack.kafka_bootstrap, prefix, tok,
                       session_expiry_s=EXPIRY_S)  # fmt: skip
    doc["mqtt"]["keepalive_s"] = KEEPALIVE_S
    before, gone, after = v2x_stream(tok, 50), v2x_stream(tok, 50, 50), v2x_stream(tok, 50, 100)
    gw = GatewayProcess(doc, tmp_path / "gateway.log")
    pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
    try:
        gw.start()
        gw.wait_ready()
        for item in before:
            pub.publish(*item)
        pub.wait_acked(30)
        time.sleep(1.0)  # forwarded and acknowledged before the freeze
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGSTOP)
        # the broker notices after 1.5 x keep-alive and expires the session 3 s later
        time.sleep(1.5 * KEEPALIVE_S + EXPIRY_S + 4)
        for item in gone:
            pub.publish(*item)
        pub.wait_acked(30)
        gw.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: gw.metrics().get("sensegate_gateway_mqtt_connections_total", 0) >= 2,
                   60, "the gateway's reconnect")  # fmt: skip
        lost_alarm = gw.metrics().get("sensegate_gateway_mqtt_session_lost_total", 0)
        for item in after:
            pub.publish(*item)
        pub.wait_acked(30)
        acked = pub.acked_ids()
        view = asyncio.run(read_kafka(stack.kafka_bootstrap, prefix, acked, families=["v2x"]))
    finally:
        pub.close()
        if gw.proc is not None and gw.proc.poll() is None:
            gw.proc.send_signal(signal.SIGCONT)
        gw.ensure_stopped()
    ids = set(view.raw_ids)
    lost = ids_of(gone) - ids
    print(f"F09: acknowledged {len(acked)} of 150; stored before {len(ids_of(before) & ids)}, "
          f"while the session was gone {len(ids_of(gone) & ids)} (lost {len(lost)}), "
          f"after {len(ids_of(after) & ids)}; session-lost alarm {lost_alarm:.0f}")  # fmt: skip
    assert len(acked) == 150  # the broker acknowledged all of them, the lost ones included
    assert ids_of(before) <= ids and ids_of(after) <= ids
    assert lost == ids_of(gone)  # the loss is exactly the messages of the expired window
    assert lost_alarm == 1
