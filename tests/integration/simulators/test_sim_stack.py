"""Simulators against the real stack: MQTT subscriber, gateway into Kafka with the oracle, replay."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators import (
    FleetConfig,
    RunOptions,
    VerifyOptions,
    replay_file_async,
    run_fleet_async,
    verify_async,
)
from simulators.oracle import read_log
from simulators.record import record
from tests.fixtures.mqtt_auth import (
    PUBLISH_ANY,
    SUBSCRIBE_ANY,
    MqttLogin,
    MqttLogins,
    admin_config,
    create_login,
)
from tests.fixtures.services import StackAddresses


def _options(stack: StackAddresses, login: MqttLogin, tmp: Path, **kw: object) -> RunOptions:
    base: dict[str, object] = {
        "host": stack.mqtt_host,
        "port": stack.mqtt_port,
        "username": login.username,
        "password": login.password,
        "speed": 0.0,
        "progress": False,
        "log_path": tmp / "run.log",
        "ack_timeout_s": 20.0,
    }
    base.update(kw)
    return RunOptions(**base)  # type: ignore[arg-type]


async def test_mixed_fleet_reaches_a_plain_subscriber(
    stack: StackAddresses, tmp_path: Path, unique_name: Callable[[str], str],
    mqtt_logins: MqttLogins,
) -> None:
    received: list[bytes] = []
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=unique_name("sub"), protocol=mqtt.MQTTv5
    )

    def on_message(_c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        received.append(bytes(m.payload))

    def on_subscribe(*_a: Any) -> None:
        loop.call_soon_threadsafe(ready.set)

    def on_connect(c: mqtt.Client, *_a: Any) -> None:
        c.subscribe(
            [("V2X/RSU/+/+/UP", 1), ("application/+/device/+/event/up", 1), ("spBv1.0/#", 1)]
        )

    mqtt_logins.gateway.apply(client)
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = on_connect
    client.connect(stack.mqtt_host, stack.mqtt_port)
    client.loop_start()
    try:
        await asyncio.wait_for(ready.wait(), 10)
        config = FleetConfig(
            devices=3,
            rate=60.0,
            duration_s=2.0,
            seed=int(time.time()) % 100000,
            options={"sparkplug_qos": "1"},
        )
        summary = await run_fleet_async(config, _options(stack, mqtt_logins.publisher, tmp_path))
        entries = list(read_log(tmp_path / "run.log"))
        sent = {e.payload_sha256 for e in entries if e.outcome == "ok"}
        assert summary.outcomes["ok"] == len(entries) == summary.published > 100
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = {hashlib.sha256(p).hexdigest() for p in received}
            if sent <= got:
                break
            await asyncio.sleep(0.1)
        assert sent <= {hashlib.sha256(p).hexdigest() for p in received}
    finally:
        client.disconnect()
        client.loop_stop()


async def test_fleet_through_gateway_into_kafka_counted_by_oracle(
    stack: StackAddresses, tmp_path: Path, unique_name: Callable[[str], str],
    mqtt_logins: MqttLogins,
) -> None:
    from tests.integration.gateway.harness import gateway_overrides, in_process_gateway

    driver = unique_name("drv")
    prefix = unique_name("sg") + "."
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=unique_name("gw")[:60],
        subscriptions=[f"V2X/RSU/+/+/UP/{driver}"],
    )
    config = FleetConfig(
        families=("v2x",),
        devices=2,
        rate=40.0,
        duration_s=3.0,
        seed=11,
        faults={"oversized": 0.05, "duplicate": 0.05},
        options={"v2x_driver": driver},
    )
    async with in_process_gateway(doc):
        await run_fleet_async(config, _options(stack, mqtt_logins.publisher, tmp_path))
        await asyncio.sleep(1.0)
    report = await verify_async(
        tmp_path / "run.log",
        VerifyOptions(bootstrap=stack.kafka_bootstrap, topic_prefix=prefix, dsn=None, timeout_s=30),
    )
    totals = report.totals
    assert report.raw_checked and not report.db_checked
    assert totals.sent > 100 and totals.lost == 0, report.render()
    assert (
        report.groups["dlq"].dead_lettered == report.groups["dlq"].sent > 0
    )  # oversized -> gateway DLQ


async def test_replay_round_trip(
    stack: StackAddresses, tmp_path: Path, unique_name: Callable[[str], str],
    mqtt_logins: MqttLogins,
) -> None:
    driver = unique_name("rp")
    config = FleetConfig(
        families=("v2x",),
        devices=2,
        rate=50.0,
        duration_s=1.0,
        seed=5,
        options={"v2x_driver": driver},
    )
    saved = tmp_path / "run.jsonl.gz"
    await run_fleet_async(config, _options(stack, mqtt_logins.publisher, tmp_path, save_path=saved))
    first = list(read_log(tmp_path / "run.log"))
    ready = asyncio.Event()
    capture = tmp_path / "capture.jsonl"
    recorder = asyncio.create_task(
        record(
            capture,
            stack.mqtt_host,
            stack.mqtt_port,
            username=mqtt_logins.gateway.username,
            password=mqtt_logins.gateway.password,
            filters=(f"V2X/RSU/+/+/UP/{driver}",),
            duration_s=20.0,
            max_messages=len(first),
            ready=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), 10)
    summary = await replay_file_async(
        saved, _options(stack, mqtt_logins.publisher, tmp_path, log_path=tmp_path / "replay.log", speed=4.0)
    )
    assert await asyncio.wait_for(recorder, 30) == len(first)
    replayed = list(read_log(tmp_path / "replay.log"))
    assert summary.published == len(first)
    assert [e.payload_sha256 for e in replayed] == [e.payload_sha256 for e in first]
    # the capture is itself a replay file holding the same bytes
    from simulators.replay import read_replay

    _, items = read_replay(capture)
    captured = sorted(hashlib.sha256(i.payload).hexdigest() for i in items if hasattr(i, "payload"))
    assert captured == sorted(e.payload_sha256 for e in first)


async def test_sparkplug_will_and_rebirth_on_ncmd(
    stack: StackAddresses, tmp_path: Path, unique_name: Callable[[str], str],
    mqtt_logins: MqttLogins,
) -> None:
    from processors.codecs.sparkplug.encode import rebirth_command_payload

    group = unique_name("G")
    seen: list[str] = []
    ready = asyncio.Event()
    data_seen = asyncio.Event()
    loop = asyncio.get_running_loop()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=unique_name("host"), protocol=mqtt.MQTTv5
    )

    def on_message(_c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        seen.append(m.topic)
        if "/DDATA/" in m.topic:
            loop.call_soon_threadsafe(data_seen.set)

    def on_subscribe(*_a: Any) -> None:
        loop.call_soon_threadsafe(ready.set)

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = lambda c, *_a: c.subscribe(f"spBv1.0/{group}/#", 1)
    # the host application listens and sends NCMD; the edge node publishes and subscribes to NCMD
    both = create_login(admin_config(stack), "host", PUBLISH_ANY + SUBSCRIBE_ANY)
    both.apply(client)
    client.connect(stack.mqtt_host, stack.mqtt_port)
    client.loop_start()
    try:
        await asyncio.wait_for(ready.wait(), 10)
        config = FleetConfig(
            families=("iiot",), devices=1, rate=10.0, duration_s=4.0, seed=3,
            faults={"disconnect": 0.05}, options={"sparkplug_group": group, "sparkplug_qos": "1"},
        )  # fmt: skip
        run = asyncio.create_task(run_fleet_async(config, _options(stack, both, tmp_path, speed=1.0)))
        await asyncio.wait_for(data_seen.wait(), 10)
        births_before = sum("/NBIRTH/" in t for t in seen)
        client.publish(f"spBv1.0/{group}/NCMD/line-01", rebirth_command_payload(), qos=1)
        summary = await run
        births = sum("/NBIRTH/" in t for t in seen)
        wills = [e for e in read_log(tmp_path / "run.log") if e.kind == "NDEATH:will"]
        # one birth per connect (start and each disconnect) plus the one the NCMD asked for
        assert births == 1 + len(wills) + 1 > births_before
        assert summary.faults["disconnect"] == len(wills) >= 1
        await asyncio.sleep(0.5)
        assert sum("/NDEATH/" in t for t in seen) == len(wills) + 1  # Wills + the final NDEATH
    finally:
        client.disconnect()
        client.loop_stop()
