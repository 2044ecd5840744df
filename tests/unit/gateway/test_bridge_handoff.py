"""Hand-off from paho's thread to the loop in batches (no broker: callbacks invoked directly)."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt

from contracts.settings import MqttConfig
from gateway.config import GatewayConfig
from gateway.mqtt_bridge import MqttBridge


def _message(mid: int) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(mid=mid, topic=b"V2X/RSU/r1/RSM/UP")
    msg.qos = 1
    msg.payload = f"m{mid}".encode()
    return msg


async def test_take_returns_bursts_in_order_and_wakes_for_later_ones() -> None:
    loop = asyncio.get_running_loop()
    bridge = MqttBridge(MqttConfig(), GatewayConfig(max_in_flight=50), loop, lambda _e: None)

    def publish(mids: range) -> None:
        for mid in mids:
            bridge._handle_message(bridge._client, None, _message(mid))

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
        bridge._handle_message(bridge._client, None, _message(mid))
    assert bridge.queued == 2
    assert bridge.drop_queued() == 2
    assert bridge.queued == 0
    await asyncio.sleep(0)  # slot releases are batched per loop iteration
    bridge._handle_message(bridge._client, None, _message(3))
    assert [m.mid for m in await asyncio.wait_for(bridge.take(), 5)] == [3]
