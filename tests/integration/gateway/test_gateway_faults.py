"""Fault tests: gateway kill -9, Kafka outage, broker restart. Services that are stopped run as
private instances (tests/fixtures/private_stack.py); the shared stack is never touched."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.mqtt_auth import MqttLogin, MqttLogins
from tests.fixtures.private_stack import PrivateKafka, PrivateMosquitto, free_port
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import (
    GatewayProcess,
    Publisher,
    gateway_overrides,
    payload_for,
    read_kafka,
    report,
)

pytestmark = pytest.mark.fault


def v2x_stream(tok: str, n: int, start: int = 0) -> list[tuple[str, bytes, str]]:
    items = []
    for i in range(start, start + n):
        msg_id = f"{tok}-{i}"
        items.append((f"V2X/RSU/{tok}-R{i % 4}/RSM/UP", payload_for(msg_id), msg_id))
    return items


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise AssertionError(msg)
        time.sleep(0.1)


def _v2x_gateway(
    mqtt: MqttLogin, kafka: str, prefix: str, tok: str, **gateway: Any
) -> dict[str, Any]:
    """Settings of a fault-test gateway subscribed to the four RSUs of ``v2x_stream(tok, ...)``."""
    return gateway_overrides(
        mqtt=mqtt,
        kafka=kafka,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=[f"V2X/RSU/{tok}-R{d}/+/UP/#" for d in range(4)],
        metrics_port=free_port(),
        **gateway,
    )


@pytest.mark.parametrize("transport", ["password", "tls"])
def test_gateway_kill9_mid_stream_loses_nothing(
    stack: StackAddresses,
    prefix: str,
    unique_name: Callable[[str], str],
    tmp_path: Path,
    *,
    mqtt_logins: MqttLogins,
    transport: str,
) -> None:
    # Authenticated on every run; "tls": the gateway's session runs over the TLS listener.
    tok = unique_name("k")[-8:]
    n = 3000
    login = mqtt_logins.gateway
    if transport == "tls":
        login = login.over_tls(stack.mqtt_tls_port, stack.mqtt_ca)
    doc = _v2x_gateway(login, stack.kafka_bootstrap, prefix, tok)
    gw = GatewayProcess(doc, tmp_path / "gateway.log")
    pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
    try:
        gw.start()
        gw.wait_ready()
        thread = pub.stream(v2x_stream(tok, n), rate=1000)
        wait_until(lambda: len(pub.infos) >= n // 3, 30, "a third of the stream")
        gw.kill()
        time.sleep(1)
        gw.start()  # same client id: the broker redelivers the unacked messages
        gw.wait_ready()
        thread.join(60)
        pub.wait_acked(60)
        acked = pub.acked_ids()
        view = asyncio.run(read_kafka(stack.kafka_bootstrap, prefix, acked, families=["v2x"]))
    finally:
        pub.close()
        gw.ensure_stopped()
    report("kill-9", n, acked, view)
    assert len(acked) == n
    assert acked <= set(view.raw_ids), f"lost {len(acked - set(view.raw_ids))}"


def test_kafka_outage_holds_acks_and_memory(
    stack: StackAddresses,
    private_kafka: Callable[[], PrivateKafka],
    unique_name: Callable[[str], str],
    tmp_path: Path,
    mqtt_logins: MqttLogins,
) -> None:
    tok = unique_name("o")[-8:]
    kafka = private_kafka()
    prefix = f"gwo{tok}."
    max_in_flight = 200
    doc = _v2x_gateway(
        mqtt_logins.gateway,
        kafka.bootstrap,
        prefix,
        tok,
        max_in_flight=max_in_flight,
        produce_timeout_s=3.0,
    )
    gw = GatewayProcess(doc, tmp_path / "gateway.log")
    pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
    before, during, after = (
        v2x_stream(tok, 800),
        v2x_stream(tok, 1500, 800),
        v2x_stream(tok, 500, 2300),
    )
    try:
        gw.start()
        gw.wait_ready()
        pub.stream(before, rate=1000).join(30)
        wait_until(lambda: gw.metrics()["sensegate_gateway_acknowledged_total"] >= 800, 60, "acks")
        kafka.stop(signal.SIGKILL)
        outage_start = time.monotonic()
        time.sleep(3)  # produce calls that were already answered may still release their acks
        acked_at_stop = gw.metrics()["sensegate_gateway_acknowledged_total"]
        rss_at_stop = gw.rss_kb()
        stream = pub.stream(during, rate=100)
        max_in_flight_seen, max_rss = 0.0, rss_at_stop
        while time.monotonic() - outage_start < 30:
            m = gw.metrics()
            max_in_flight_seen = max(max_in_flight_seen, m["sensegate_gateway_in_flight"])
            max_rss = max(max_rss, gw.rss_kb())
            time.sleep(1)
        stream.join(60)
        acked_during = gw.metrics()["sensegate_gateway_acknowledged_total"]
        kafka.start()
        pub.stream(after, rate=1000).join(30)
        pub.wait_acked(60)
        acked = pub.acked_ids()
        wait_until(
            lambda: gw.metrics()["sensegate_gateway_acknowledged_total"] >= 2800, 120, "catch-up"
        )
        view = asyncio.run(read_kafka(kafka.bootstrap, prefix, acked, families=["v2x"]))
        final = gw.metrics()
    finally:
        pub.close()
        gw.ensure_stopped()
    print(
        f"[kafka-outage] acked_at_stop={acked_at_stop} acked_during={acked_during} "
        f"max_in_flight={max_in_flight_seen} rss_at_stop={rss_at_stop}kB max_rss={max_rss}kB "
        f"produce_errors={final.get('sensegate_gateway_produce_errors_total')} "
        f"recreated={final.get('sensegate_gateway_producer_recreated_total')}"
    )
    report("kafka-outage", 2800, acked, view)
    assert acked_during == acked_at_stop, "a PUBACK was released while Kafka was down"
    assert max_in_flight_seen <= 2 * max_in_flight
    assert max_rss - rss_at_stop < 64 * 1024, "gateway memory grew during the outage"
    assert len(acked) == 2800
    assert acked <= set(view.raw_ids), f"lost {len(acked - set(view.raw_ids))}"


def test_broker_restart_reconnects_and_resumes(
    stack: StackAddresses,
    prefix: str,
    private_mosquitto: Callable[[], PrivateMosquitto],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    tok = unique_name("r")[-8:]
    n = 3000
    broker = private_mosquitto()
    doc = _v2x_gateway(broker.login("gateway"), stack.kafka_bootstrap, prefix, tok)
    gw = GatewayProcess(doc, tmp_path / "gateway.log")
    pub = Publisher(broker.login("publisher"), f"pub-{tok}")
    try:
        gw.start()
        gw.wait_ready()
        thread = pub.stream(v2x_stream(tok, n), rate=1000)
        wait_until(lambda: len(pub.infos) >= n // 3, 30, "a third of the stream")
        broker.stop(signal.SIGTERM)  # graceful: Mosquitto saves its sessions
        time.sleep(2)
        broker.start()
        thread.join(60)
        pub.wait_acked(90)
        acked = pub.acked_ids()
        view = asyncio.run(read_kafka(stack.kafka_bootstrap, prefix, acked, families=["v2x"]))
        metrics = gw.metrics()
        assert gw.terminate() == 0
    finally:
        pub.close()
        gw.ensure_stopped()
    report("broker-restart", n, acked, view)
    assert metrics["sensegate_gateway_mqtt_connections_total"] >= 2
    assert metrics["sensegate_gateway_mqtt_session_lost_total"] == 0
    assert len(acked) == n
    assert acked <= set(view.raw_ids), f"lost {len(acked - set(view.raw_ids))}"
