"""Capture live traffic from a broker into a replay file (``python -m simulators record``).

Subscribes at QoS 1 to the given topic filters and writes each message as a replay item with its
receive time; family and device id come from the topic (``replay.topic_identity``). Recorded
messages carry ``expect = "any"``: the oracle counts them but cannot know what they should produce.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.exceptions import BrokerError
from simulators.model import SimMessage
from simulators.replay import ReplayWriter, topic_identity

__all__ = ["DEFAULT_FILTERS", "record"]

logger = logging.getLogger(__name__)

DEFAULT_FILTERS = ("V2X/#", "application/+/device/+/event/up", "spBv1.0/#")


async def record(
    path: Path,
    host: str,
    port: int,
    *,
    filters: Sequence[str] = DEFAULT_FILTERS,
    duration_s: float = 60.0,
    max_messages: int | None = None,
    ready: asyncio.Event | None = None,
    username: str | None = None,
    password: str | None = None,
) -> int:
    """Record until ``duration_s`` passes or ``max_messages`` arrive; returns the count written."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[SimMessage] = asyncio.Queue(maxsize=100_000)
    subscribed = asyncio.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        family, device = topic_identity(msg.topic)
        item = SimMessage(
            t_ms=time.time_ns() // 1_000_000,
            topic=msg.topic,
            payload=bytes(msg.payload),
            family=family,
            device_id=device,
            kind="recorded",
            qos=msg.qos,
            retain=bool(msg.retain),
            expect="any",
        )
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def on_subscribe(*_args: object) -> None:
        loop.call_soon_threadsafe(subscribed.set)

    def on_connect(client: mqtt.Client, *_args: object) -> None:
        client.subscribe([(f, 1) for f in filters])

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"sgsim-rec-{time.time_ns()}", protocol=mqtt.MQTTv5
    )
    if username:
        client.username_pw_set(username, password)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        msg = f"cannot reach MQTT broker {host}:{port}: {exc}"
        raise BrokerError(msg) from exc
    client.loop_start()
    writer = ReplayWriter(path, {"recorded_from": f"{host}:{port}", "filters": list(filters)})
    count = 0
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
        if ready is not None:
            ready.set()
        deadline = loop.time() + duration_s
        while (max_messages is None or count < max_messages) and loop.time() < deadline:
            try:
                item = await asyncio.wait_for(queue.get(), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            writer.write(item)
            count += 1
    finally:
        writer.close()
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
    logger.info("recorded %d messages to %s", count, path)
    return count
