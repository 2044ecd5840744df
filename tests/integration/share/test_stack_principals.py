"""The shared stack's Kafka enforces ACLs: each pipeline service's principal may do only its job."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from runtime.kafka_client import client_kwargs
from tests.fixtures.services import StackAddresses, consumer_env

_CONSUMER = {"GATEWAY": "gateway", "SINK": "sink", "SHARE": "share", "NORMALIZER": "normalize"}


def _credentials(stack: StackAddresses) -> dict[str, str]:
    """Each service's SCRAM login, from the env file the stack hands that service."""
    creds: dict[str, str] = {}
    for key, consumer in _CONSUMER.items():
        env = consumer_env(stack.state, consumer)
        creds[f"{key}_SASL_USERNAME"] = env["SENSEGATE_KAFKA__SASL_USERNAME"]
        creds[f"{key}_SASL_PASSWORD"] = env["SENSEGATE_KAFKA__SASL_PASSWORD"]
    return creds


def _sasl(stack: StackAddresses, creds: dict[str, str], service: str) -> dict[str, object]:
    """The service's login on the SASL_PLAINTEXT listener (the SASL_SSL one: test_kafka_access)."""
    return {
        "bootstrap_servers": stack.kafka_sasl_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": creds[f"{service}_SASL_USERNAME"],
        "sasl_plain_password": creds[f"{service}_SASL_PASSWORD"],
        "request_timeout_ms": 5000,
    }


async def _produce(kwargs: dict[str, object], topic: str) -> None:
    producer = AIOKafkaProducer(acks="all", **kwargs)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"acl-test")
    finally:
        await producer.stop()


async def _consume_one(kwargs: dict[str, object], topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", **kwargs)
    try:
        await consumer.start()
        await asyncio.wait_for(consumer.getone(), 10)
    finally:
        await consumer.stop()


async def test_gateway_principal_writes_raw_but_not_data(stack: StackAddresses) -> None:
    creds = _credentials(stack)
    gateway = _sasl(stack, creds, "GATEWAY")
    raw = f"sensegate.raw.acltest_{uuid.uuid4().hex[:8]}"
    try:
        await _produce(gateway, raw)  # allowed: WRITE+CREATE on the raw. prefix
        with pytest.raises(KafkaError):
            await _produce(gateway, "sensegate.data.agri_soil")
    finally:
        admin = AIOKafkaAdminClient(**client_kwargs(stack.kafka_bootstrap))
        await admin.start()
        try:
            await admin.delete_topics([raw])
        finally:
            await admin.close()


async def test_sink_principal_cannot_read_raw_or_write_share(stack: StackAddresses) -> None:
    creds = _credentials(stack)
    sink = _sasl(stack, creds, "SINK")
    with pytest.raises(KafkaError):
        await _consume_one(sink, "sensegate.raw.v2x", "sensegate-sink-acltest")
    with pytest.raises(KafkaError):
        await _produce(sink, "sensegate.share.agri_weather")


async def test_wrong_password_is_refused(stack: StackAddresses) -> None:
    creds = _credentials(stack)
    bad = {**_sasl(stack, creds, "SHARE"), "sasl_plain_password": uuid.uuid4().hex}
    with pytest.raises(KafkaError):
        await _produce(bad, "sensegate.share.agri_weather")
