"""Keepalive starvation: the paho thread held on a full pipeline still keeps the connection alive.

Before the fix, a gateway whose pipeline was full (Kafka down) sent nothing for 1.5 x keepalive, the
broker dropped it, its QoS 0 messages were lost and its whole QoS 1 window was redelivered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import GatewayConfig
from gateway.mqtt_bridge import ConnectionEvent, MqttBridge
from tests.fixtures.private_stack import PrivateMosquitto

pytestmark = pytest.mark.fault

KEEPALIVE_S = 5  # the smallest the settings allow; the broker drops a silent client after 7.5 s


def _publish(broker: PrivateMosquitto, topic: str, count: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ka-pub", protocol=mqtt.MQTTv5)
    broker.login("publisher").apply(client)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for i in range(count):
            client.publish(topic, f"m{i}".encode(), qos=0).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


async def test_held_paho_thread_keeps_the_connection(
    private_mosquitto: Callable[[], PrivateMosquitto],
) -> None:
    """Pipeline full for 3 x keepalive: no disconnect, nothing lost, PINGREQs sent while held."""
    broker = private_mosquitto()
    events: list[ConnectionEvent] = []
    cfg = GatewayConfig(
        instance_id="ka-test",
        subscriptions=["ka/+/up"],
        max_in_flight=1,  # queue_capacity 2: the third message holds paho's thread
    )
    bridge = MqttBridge(
        broker.login("gateway").config().model_copy(update={"keepalive_s": KEEPALIVE_S}),
        cfg,
        asyncio.get_running_loop(),
        events.append,
    )
    bridge.start()
    try:
        deadline = time.monotonic() + 20
        while not bridge.connected:
            assert time.monotonic() < deadline, "bridge did not connect"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(_publish, broker, "ka/d1/up", 6)
        first = await asyncio.wait_for(bridge.take(), 10)
        # Hold every slot (never released) for three keepalive periods.
        await asyncio.sleep(3 * KEEPALIVE_S)
        assert [e.connected for e in events] == [True], f"connection dropped while held: {events}"
        assert bridge.keepalive_pings >= 2
        received = [m.payload for m in first]
        for _ in range(len(first)):
            bridge.release_slot()
        while len(received) < 6:
            batch = await asyncio.wait_for(bridge.take(), 10)
            received += [m.payload for m in batch]
            for _ in batch:
                bridge.release_slot()
        assert received == [f"m{i}".encode() for i in range(6)]
        await asyncio.sleep(1)
        assert [e.connected for e in events] == [True]
    finally:
        await asyncio.to_thread(bridge.stop)
