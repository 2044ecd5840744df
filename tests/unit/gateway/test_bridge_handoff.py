"""Hand-off from paho's thread to the loop in batches (no broker: callbacks invoked directly)."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contracts.settings import MqttConfig
from gateway.config import GatewayConfig
from gateway.mqtt_bridge import MqttBridge
from gateway.paho_client import PublishFields


def _message(mid: int) -> PublishFields:
    # What BufferedClient hands over for a QoS 1 PUBLISH (the path the gateway runs).
    return PublishFields(
        topic=b"V2X/RSU/r1/RSM/UP",
        payload=f"m{mid}".encode(),
        mid=mid,
        qos=1,
        retain=False,
        dup=False,
        user_properties=(),
    )


async def test_take_returns_bursts_in_order_and_wakes_for_later_ones() -> None:
    loop = asyncio.get_running_loop()
    bridge = MqttBridge(MqttConfig(), GatewayConfig(max_in_flight=50), loop, lambda _e: None)

    def publish(mids: range) -> None:
        for mid in mids:
            bridge._handle_fields(_message(mid))

    thread = threading.Thread(target=publish, args=(range(1, 31),))
    thread.start()
    got: list[int] = []
    while len(got) < 30:
        got.extend(m.mid for m in await asyncio.wait_for(bridge.take(), 5))
    thread.join()
    assert got == list(range(1, 31))
    assert bridge.queued == 0

    # A message after the inbox ran dry wakes a waiting take().
    waiter = asyncio.create_task(bridge.take())
    await asyncio.sleep(0)
    await asyncio.to_thread(publish, range(31, 33))
    assert [m.mid for m in await asyncio.wait_for(waiter, 5)] in ([31, 32], [31])


async def test_drop_queued_forgets_untaken_messages_and_frees_their_slots() -> None:
    loop = asyncio.get_running_loop()
    bridge = MqttBridge(MqttConfig(), GatewayConfig(max_in_flight=1), loop, lambda _e: None)
    for mid in (1, 2):  # capacity is 2 x max_in_flight
        bridge._handle_fields(_message(mid))
    assert bridge.queued == 2
    assert bridge.drop_queued() == 2
    assert bridge.queued == 0
    await asyncio.sleep(0)  # slot releases are batched per loop iteration
    bridge._handle_fields(_message(3))
    assert [m.mid for m in await asyncio.wait_for(bridge.take(), 5)] == [3]


async def test_paho_message_path_hands_over_the_same_fields() -> None:
    """paho's own path (QoS 2 / non-v5 fallback of BufferedClient) converts like the lean one."""
    loop = asyncio.get_running_loop()
    bridge = MqttBridge(MqttConfig(), GatewayConfig(max_in_flight=5), loop, lambda _e: None)
    msg = mqtt.MQTTMessage(mid=7, topic=b"V2X/RSU/r1/RSM/UP")
    msg.qos, msg.retain, msg.dup, msg.payload = 1, True, True, b"m7"
    msg.properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    msg.properties.UserProperty = [("k", "v")]
    bridge._handle_message(bridge._client, None, msg)
    bridge._handle_fields(_message(8))
    first, second = await asyncio.wait_for(bridge.take(), 5)
    assert (first.mid, first.qos, first.retain, first.dup) == (7, 1, True, True)
    assert (first.topic, first.payload, first.user_properties) == (
        "V2X/RSU/r1/RSM/UP",
        b"m7",
        (("k", "v"),),
    )
    assert (second.mid, second.topic, second.retain) == (8, first.topic, False)

