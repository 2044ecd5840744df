"""Supervised tasks: a gateway whose dispatcher dies exits non-zero with the error in its log, and
paho's network thread reports its own death (real Mosquitto and Kafka of the shared stack)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.paho_client import BufferedClient, PublishFields
from runtime.faults import FAULTS_ENV
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.private_stack import free_port
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import (
    GatewayProcess,
    Publisher,
    gateway_overrides,
    payload_for,
    read_kafka,
)


def test_dispatcher_failure_exits_nonzero_and_restart_delivers_everything(
    mqtt_logins: MqttLogins,
    stack: StackAddresses,
    prefix: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    # The fault is injected through the test-only point "gateway.dispatch" (runtime/faults.py):
    # no input can kill the dispatcher by design (bad input is dead-lettered), so a poison
    # message is not available; the point raises inside the real dispatcher task on its first batch.
    tok = unique_name("t")[-8:]
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=[f"V2X/RSU/{tok}/+/UP/#"],
        metrics_port=free_port(),
    )
    log = tmp_path / "gateway.log"
    gw = GatewayProcess(doc, log, extra_env={FAULTS_ENV: "gateway.dispatch"})
    pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
    ids = [f"{tok}-{i}" for i in range(20)]
    try:
        gw.start()
        gw.wait_ready()  # /readyz green: the fault fires only when a batch is dispatched
        for msg_id in ids:
            pub.publish(f"V2X/RSU/{tok}/RSM/UP", payload_for(msg_id), msg_id)
        assert gw.proc is not None
        try:
            rc = gw.proc.wait(60)
        except subprocess.TimeoutExpired as exc:
            msg = f"gateway kept running after its dispatcher died:\n{log.read_text()[-3000:]}"
            raise AssertionError(msg) from exc
        text = log.read_text()
        assert rc == 1, text[-3000:]
        assert "TEST FAULT INJECTION ARMED: gateway.dispatch" in text
        assert "gateway-dispatch failed" in text
        assert "InjectedFault: injected fault at gateway.dispatch" in text  # the traceback
        assert "gateway exits with status 1" in text
        pub.wait_acked(30)  # the broker holds them all (its PUBACKs to the publisher)
        before = asyncio.run(
            read_kafka(stack.kafka_bootstrap, prefix, set(ids), families=["v2x"], idle_s=3)
        )
        assert not before.raw_ids  # the dispatcher died before handing any of them to Kafka

        # Restarted (as a supervisor would) without the fault: the session hands the messages the
        # dead gateway never acknowledged over again, and every one of them reaches Kafka.
        gw.extra_env = {}
        gw.start()
        gw.wait_ready()
        view = asyncio.run(read_kafka(stack.kafka_bootstrap, prefix, set(ids), families=["v2x"]))
        assert gw.terminate() == 0
    finally:
        pub.close()
        gw.ensure_stopped()
    assert set(ids) <= set(view.raw_ids)


def test_paho_thread_reports_the_exception_that_ended_it(mqtt_logins: MqttLogins) -> None:
    topic = f"supervision/{uuid.uuid4().hex[:8]}"
    ended = threading.Event()
    reports: list[BaseException | None] = []

    def on_exit(error: BaseException | None) -> None:
        reports.append(error)
        ended.set()

    def boom(_fields: PublishFields) -> None:
        msg = "handler bug"
        raise ValueError(msg)

    subscribed = threading.Event()
    client = BufferedClient(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"sup-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.on_publish_fields = boom
    client.on_thread_exit = on_exit
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: subscribed.set()
    receiver, publisher = mqtt_logins.gateway, mqtt_logins.publisher
    receiver.apply(client)
    client.connect(receiver.host, receiver.port)
    client.loop_start()
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.apply(sender)
    try:
        assert subscribed.wait(30)
        sender.connect(publisher.host, publisher.port)
        sender.loop_start()
        sender.publish(topic, b"x", qos=1)
        assert ended.wait(30), "paho's thread kept running or died unreported"
    finally:
        sender.disconnect()
        sender.loop_stop()
        client.loop_stop()
    assert len(reports) == 1
    assert isinstance(reports[0], ValueError)
    assert str(reports[0]) == "handler bug"


def test_paho_thread_ended_by_disconnect_reports_nothing(mqtt_logins: MqttLogins) -> None:
    reports: list[BaseException | None] = []
    connected = threading.Event()
    client = BufferedClient(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"sup-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.on_thread_exit = reports.append
    client.on_connect = lambda *_a: connected.set()
    login = mqtt_logins.gateway
    login.apply(client)
    client.connect(login.host, login.port)
    client.loop_start()
    assert connected.wait(30)
    thread = client._thread
    client.disconnect()
    client.loop_stop()  # joins paho's thread
    assert thread is not None and not thread.is_alive()
    assert reports == []
