"""B01: a PUBLISH over the broker's ``max_packet_size``, among a good stream through the gateway.

The stack's Mosquitto refuses packets over 2 MiB (``stack/mosquitto.conf.in``): it disconnects the
sender. The test checks the other half of the promise: the gateway and the other devices are not
affected, the good stream is complete on the raw topics, and nothing of the refused packet arrives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import (
    Publisher,
    gateway_overrides,
    in_process_gateway,
    payload_for,
    read_kafka,
    report,
)
from tests.integration.gateway.test_gateway_flow import FAMILIES, mixed_stream, subscriptions

pytestmark = pytest.mark.fault

BROKER_MAX_PACKET = 2 * 1024 * 1024  # max_packet_size of stack/mosquitto.conf.in


async def test_b01_packet_over_broker_limit_disconnects_sender_only(
    mqtt_logins: MqttLogins, stack: StackAddresses, prefix: str, unique_name: Callable[[str], str]
) -> None:
    """The oversized sender is disconnected; gateway up; good stream complete; nothing oversized."""
    tok = unique_name("b01")[-8:]
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway, kafka=stack.kafka_bootstrap, prefix=prefix,
        instance=f"gw-{tok}", subscriptions=subscriptions(tok),
    )  # fmt: skip
    good = mixed_stream(tok, 300)
    dropped = threading.Event()

    def on_disconnect(*_args: Any) -> None:
        dropped.set()

    async with in_process_gateway(doc) as gw:
        pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
        big = Publisher(mqtt_logins.publisher, f"big-{tok}")
        big.client.on_disconnect = on_disconnect
        try:
            for i, (topic, payload, msg_id) in enumerate(good):
                pub.publish(topic, payload, msg_id)
                if i == 150:
                    oversized = payload_for(f"{tok}-huge", BROKER_MAX_PACKET + 100_000)
                    big.publish(f"V2X/RSU/{tok}-R1/RSM/UP", oversized, f"{tok}-huge")
            await asyncio.to_thread(pub.wait_acked, 60)
            await asyncio.to_thread(dropped.wait, 30)
            acked, big_acked = pub.acked_ids(), big.acked_ids()
        finally:
            big.client.loop_stop()
            pub.close()
        good_ids = {msg_id for _, _, msg_id in good}
        view = await read_kafka(stack.kafka_bootstrap, prefix, good_ids, families=FAMILIES)
        assert gw.ready  # the gateway never saw the packet and is still up
    report("b01-broker-max-packet", len(good) + 1, acked, view)
    assert dropped.is_set(), "the broker did not disconnect the sender of an oversized packet"
    assert not big_acked  # never PUBACKed
    assert good_ids <= acked
    assert good_ids <= set(view.raw_ids)
    assert f"{tok}-huge" not in set(view.raw_ids)
    assert all(d.envelope.get("payload_size", 0) <= BROKER_MAX_PACKET for d in view.dead)
