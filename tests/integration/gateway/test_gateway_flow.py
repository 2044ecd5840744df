"""Gateway against the shared Mosquitto and Kafka: counting oracle, bad input, shared subscriptions,
graceful shutdown. Each test uses its own MQTT topics and its own Kafka topic prefix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.dead_letter import ReasonCode, Stage
from runtime.kafka_client import client_kwargs
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.private_stack import free_port
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import (
    GatewayProcess,
    Publisher,
    gateway_overrides,
    in_process_gateway,
    payload_for,
    read_kafka,
    report,
)

FAMILIES = ("v2x", "agri", "iiot")


def mixed_stream(tok: str, n: int) -> list[tuple[str, bytes, str]]:
    """n messages over the three layouts, 5 devices each, every payload with a unique id."""
    items = []
    for i in range(n):
        dev = i % 5
        kind = i % 3
        if kind == 0:
            topic = f"V2X/RSU/{tok}-R{dev}/RSM/UP"
        elif kind == 1:
            topic = f"application/{tok}/device/A84041000181C6F{dev}/event/up"
        else:
            topic = f"spBv1.0/{tok}/DDATA/edge{dev}/pump"
        msg_id = f"{tok}-{i}"
        items.append((topic, payload_for(msg_id), msg_id))
    return items


def subscriptions(tok: str) -> list[str]:
    return [
        *(f"V2X/RSU/{tok}-R{d}/+/UP/#" for d in range(5)),
        f"application/{tok}/device/+/event/+",
        f"spBv1.0/{tok}/#",
    ]


# 4 KiB batches: a burst of one partition spans many Kafka batches (the hand-over loop).
# "tls": the gateway's session runs over the broker's TLS listener (authenticated in every case).
@pytest.mark.parametrize(
    ("batch_bytes", "transport"),
    [(262_144, "password"), (4096, "password"), (262_144, "tls")],
    ids=["default-batches", "small-batches", "tls"],
)
async def test_counting_oracle(
    mqtt_logins: MqttLogins,
    stack: StackAddresses,
    prefix: str,
    unique_name: Callable[[str], str],
    *,
    batch_bytes: int,
    transport: str,
) -> None:
    tok = unique_name("c")[-8:]
    n = 3000
    login = mqtt_logins.gateway
    if transport == "tls":
        login = login.over_tls(stack.mqtt_tls_port, stack.mqtt_ca)
    doc = gateway_overrides(
        mqtt=login,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=subscriptions(tok),
        batch_bytes=batch_bytes,
    )
    items = mixed_stream(tok, n)
    async with in_process_gateway(doc) as gw:
        pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
        try:
            for topic, payload, msg_id in items:
                pub.publish(topic, payload, msg_id, properties=None)
            await asyncio.to_thread(pub.wait_acked, 60)
            acked = pub.acked_ids()
        finally:
            pub.close()
        view = await read_kafka(stack.kafka_bootstrap, prefix, acked, families=FAMILIES)
        received = gw.metrics.received.labels("1")._value.get()
    report("counting", n, acked, view)
    assert len(acked) == n
    assert acked <= set(view.raw_ids), f"lost: {sorted(acked - set(view.raw_ids))[:10]}"
    assert received >= n
    # Envelope metadata is complete and device ids follow the topic layouts.
    devices = {(e.family, e.device_id) for e in view.envelopes}
    assert ("v2x", f"{tok}-R0") in devices
    assert ("agri", "a84041000181c6f1") in devices
    assert ("iiot", f"{tok}/edge2/pump") in devices
    assert all(e.gateway_id == f"gw-{tok}" and e.qos == 1 for e in view.envelopes)
    # Per-device order: without redelivery, each device's ids arrive in publish order.
    if view.duplicates() == 0:
        seqs: dict[str, list[int]] = {}
        for env in view.envelopes:
            seqs.setdefault(env.device_id, []).append(
                int(env.payload.split(b"|")[0].split(b"-")[-1])
            )
        assert all(s == sorted(s) for s in seqs.values())


async def test_bad_input_dead_lettered_good_stream_complete(
    mqtt_logins: MqttLogins,
    stack: StackAddresses, prefix: str, unique_name: Callable[[str], str]
) -> None:
    tok = unique_name("b")[-8:]
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=[*subscriptions(tok), f"junk/{tok}/#"],
        max_payload_bytes=10_000,
    )
    good = mixed_stream(tok, 1000)
    bad = {
        f"{tok}-empty": (f"V2X/RSU/{tok}-R1/RSM/UP", b"", ReasonCode.PAYLOAD_EMPTY),
        f"{tok}-big": (
            f"V2X/RSU/{tok}-R2/RSM/UP",
            payload_for(f"{tok}-big", 50_000),
            ReasonCode.PAYLOAD_TOO_LARGE,
        ),
        f"{tok}-unroutable": (
            f"junk/{tok}/x",
            payload_for(f"{tok}-unroutable"),
            ReasonCode.TOPIC_UNROUTABLE,
        ),
        f"{tok}-sparkplug-deep": (
            f"spBv1.0/{tok}/DDATA/e/d/too/deep",
            payload_for(f"{tok}-sparkplug-deep"),
            ReasonCode.TOPIC_UNROUTABLE,
        ),
    }
    async with in_process_gateway(doc) as gw:
        pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
        try:
            bad_items = list(bad.items())
            for i, (topic, payload, msg_id) in enumerate(good):
                pub.publish(topic, payload, msg_id)
                if i % 250 == 100 and bad_items:
                    bad_id, (btopic, bpayload, _) = bad_items.pop()
                    pub.publish(btopic, bpayload, bad_id)
            await asyncio.to_thread(pub.wait_acked, 60)
            acked = pub.acked_ids()
        finally:
            pub.close()
        good_ids = {msg_id for _, _, msg_id in good}
        view = await read_kafka(stack.kafka_bootstrap, prefix, good_ids, families=FAMILIES)
        # read on until the dead letters are there too (they share no id set with the raw topics)
        for _ in range(10):
            if len({d.envelope["topic"] for d in view.dead}) >= len(bad):
                break
            await asyncio.sleep(0.5)
            view = await read_kafka(
                stack.kafka_bootstrap, prefix, good_ids, families=FAMILIES, idle_s=2
            )
        assert gw.ready  # still up after the bad input
    report("bad-input", len(good) + len(bad), acked, view)
    assert good_ids <= set(view.raw_ids)
    assert good_ids <= acked
    assert not set(bad) & set(view.raw_ids)  # never on a raw topic
    by_topic = {d.envelope["topic"]: d for d in view.dead}
    for bad_id, (topic, payload, reason) in bad.items():
        letter = by_topic[topic]
        assert letter.reason is reason, bad_id
        assert letter.stage is Stage.GATEWAY
        if reason is ReasonCode.PAYLOAD_TOO_LARGE:
            assert letter.envelope["payload_size"] == len(payload)
            assert payload.startswith(letter.payload)
        else:
            assert letter.payload == payload
    assert {f"{tok}-empty", f"{tok}-big", f"{tok}-unroutable"} <= acked


async def test_record_kafka_refuses_is_dead_lettered_rest_of_its_batch_delivered(
    mqtt_logins: MqttLogins,
    stack: StackAddresses, prefix: str, unique_name: Callable[[str], str]
) -> None:
    """A payload under the gateway's limit but over the topic's max.message.bytes fails its whole
    batch; each record of that batch is then sent alone, so only the refused one is dead-lettered."""
    tok = unique_name("k")[-8:]
    admin = AIOKafkaAdminClient(**client_kwargs(stack.kafka_bootstrap))
    await admin.start()
    try:
        topic = NewTopic(f"{prefix}raw.v2x", 1, 1, topic_configs={"max.message.bytes": "30000"})
        await admin.create_topics([topic])
    finally:
        await admin.close()
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=[f"V2X/RSU/{tok}/+/UP/#"],
        max_payload_bytes=100_000,
    )
    rsu = f"V2X/RSU/{tok}/RSM/UP"
    good = [(f"{tok}-{i}", payload_for(f"{tok}-{i}")) for i in range(200)]
    big_id, big = f"{tok}-big", payload_for(f"{tok}-big", 50_000)
    async with in_process_gateway(doc) as gw:
        pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
        try:
            for i, (msg_id, payload) in enumerate(good):
                pub.publish(rsu, payload, msg_id)
                if i == 100:
                    pub.publish(rsu, big, big_id)
            await asyncio.to_thread(pub.wait_acked, 60)
            acked = pub.acked_ids()
        finally:
            pub.close()
        good_ids = {msg_id for msg_id, _ in good}
        view = await read_kafka(stack.kafka_bootstrap, prefix, good_ids, families=("v2x",))
        for _ in range(10):
            if view.dead:
                break
            await asyncio.sleep(0.5)
            view = await read_kafka(
                stack.kafka_bootstrap, prefix, good_ids, families=("v2x",), idle_s=2
            )
        refused = gw.metrics.dead_lettered.labels(ReasonCode.PAYLOAD_TOO_LARGE.value)._value.get()
    report("kafka-refused", len(good) + 1, acked, view)
    assert good_ids | {big_id} <= acked
    assert good_ids <= set(view.raw_ids)
    assert big_id not in view.raw_ids
    assert [d.reason for d in view.dead] == [ReasonCode.PAYLOAD_TOO_LARGE]
    letter = view.dead[0]
    assert letter.envelope["payload_size"] == len(big)
    assert big.startswith(letter.payload) and len(letter.payload) < len(big)
    assert refused == 1


async def test_two_instances_share_one_subscription(
    mqtt_logins: MqttLogins,
    stack: StackAddresses, prefix: str, unique_name: Callable[[str], str]
) -> None:
    tok = unique_name("s")[-8:]
    n = 3000
    docs = [
        gateway_overrides(
            mqtt=mqtt_logins.gateway,
            kafka=stack.kafka_bootstrap,
            prefix=prefix,
            instance=f"gw-{tok}-{k}",
            subscriptions=subscriptions(tok),
            share_group=f"grp{tok}",
        )
        for k in (1, 2)
    ]
    items = mixed_stream(tok, n)
    async with in_process_gateway(docs[0]) as gw1, in_process_gateway(docs[1]) as gw2:
        pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
        try:
            for topic, payload, msg_id in items:
                pub.publish(topic, payload, msg_id)
            await asyncio.to_thread(pub.wait_acked, 60)
            acked = pub.acked_ids()
        finally:
            pub.close()
        view = await read_kafka(stack.kafka_bootstrap, prefix, acked, families=FAMILIES)
        counts = [g.metrics.received.labels("1")._value.get() for g in (gw1, gw2)]
    report(f"shared-subscription split={counts}", n, acked, view)
    assert len(acked) == n
    assert acked <= set(view.raw_ids)
    assert all(c > 0 for c in counts), counts
    assert {e.gateway_id for e in view.envelopes} == {f"gw-{tok}-1", f"gw-{tok}-2"}


def test_sigterm_drains_and_exits_zero(
    mqtt_logins: MqttLogins,
    stack: StackAddresses, prefix: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    tok = unique_name("t")[-8:]
    n = 2000
    doc = gateway_overrides(
        mqtt=mqtt_logins.gateway,
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=subscriptions(tok),
        metrics_port=free_port(),
    )
    gw = GatewayProcess(doc, tmp_path / "gateway.log")
    pub = Publisher(mqtt_logins.publisher, f"pub-{tok}")
    items = mixed_stream(tok, n)
    try:
        gw.start()
        gw.wait_ready()
        thread = pub.stream(items, rate=1500)
        while len(pub.infos) < n // 2:
            thread.join(0.05)
        rc = gw.terminate()
        assert rc == 0, (tmp_path / "gateway.log").read_text()[-2000:]
        assert "stopped: acked" in (tmp_path / "gateway.log").read_text()
        gw.start()  # same client id: resumes the persistent session
        gw.wait_ready()
        thread.join(60)
        pub.wait_acked(60)
        acked = pub.acked_ids()
        view = asyncio.run(read_kafka(stack.kafka_bootstrap, prefix, acked, families=FAMILIES))
    finally:
        pub.close()
        gw.ensure_stopped()
    report("sigterm", n, acked, view)
    assert len(acked) == n
    assert acked <= set(view.raw_ids)
