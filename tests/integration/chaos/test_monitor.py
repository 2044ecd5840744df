"""Alarms (issue 17 item 2): the broker's silent queue drops and a stage's lag become metrics.

F07 / W5 in small: a private Mosquitto with ``max_queued_messages 5`` holds a persistent session
whose client is away; 20 QoS 1 messages arrive, 15 are dropped by the broker without telling the
publisher, and the monitor's ``sensegate_mqtt_broker_dropped_messages`` shows exactly that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from contracts.settings import DbConfig, MetricsConfig
from runtime.kafka_client import client_kwargs, config_for
from runtime.monitor import LAG, SYS_GAUGES, SYS_VALUES, MonitorConfig, MonitorSettings, run_monitor
from tests.fixtures.private_stack import PrivateMosquitto
from tests.fixtures.services import StackAddresses


def _park_session_and_flood(broker: PrivateMosquitto, count: int) -> None:
    """A persistent QoS 1 subscriber goes away; ``count`` QoS 1 messages are published for it."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    port = broker.port
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="parked", protocol=mqtt.MQTTv5)
    broker.login("gateway").apply(sub)
    sub.connect("127.0.0.1", port, clean_start=False, properties=props)
    sub.loop_start()
    sub.subscribe("w5/#", qos=1)[1]
    time.sleep(1)
    sub.disconnect()
    sub.loop_stop()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood", protocol=mqtt.MQTTv5)
    broker.login("publisher").apply(pub)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for i in range(count):
        pub.publish("w5/x", str(i).encode(), qos=1).wait_for_publish(5)  # every one PUBACKed
    pub.disconnect()
    pub.loop_stop()


async def test_broker_drops_and_stage_lag_are_exported(
    stack: StackAddresses,
    unique_name: Callable[[str], str],
    private_mosquitto: Callable[..., PrivateMosquitto],
) -> None:
    """15 of 20 PUBACKed messages dropped by the broker: the gauge says 15; group lag 6 of 10."""
    broker = private_mosquitto("max_queued_messages 5", "sys_interval 1")
    await asyncio.to_thread(_park_session_and_flood, broker, 20)
    topic, group = unique_name("mon"), unique_name("mon-g")
    producer = AIOKafkaProducer(**client_kwargs(stack.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, b"x", partition=0, key=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **client_kwargs(stack.kafka_bootstrap), group_id=group)
    await consumer.start()
    try:
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(4, "")})
    finally:
        await consumer.stop()
    settings = MonitorSettings(
        mqtt=broker.admin,  # $SYS is readable by the broker's admin identity only
        kafka=config_for(stack.kafka_bootstrap),
        db=DbConfig(dsn=SecretStr(stack.pg_dsn)),
        metrics=MetricsConfig(port=0),
        monitor=MonitorConfig(interval_s=1, normalize_group=group),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_monitor(settings, stop))
    lag = LAG.labels("normalize", group, topic)
    try:
        deadline = time.monotonic() + 60
        while SYS_VALUES.get("publish/messages/dropped") != 15 or lag._value.get() != 6:
            assert time.monotonic() < deadline, f"monitor did not report: {SYS_VALUES}"
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert SYS_GAUGES["publish/messages/dropped"]._value.get() == 15
    assert SYS_VALUES["store/messages/count"] >= 5
