"""Kafka as `make stack-up` runs it: no anonymous client on any listener, least privilege per principal."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAuthorizationFailedError
from pydantic import SecretStr

from contracts.settings import KafkaConfig
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from runtime.kafka_client import config_for
from stack.credentials import read_env_file
from tests.fixtures.services import StackAddresses, consumer_env


def _listeners(stack: StackAddresses) -> dict[str, str]:
    env = read_env_file(stack.state / "stack.env")
    return {
        "SASL_SSL client listener": stack.kafka_bootstrap,
        "SASL_PLAINTEXT listener": stack.kafka_sasl_bootstrap,
        "controller listener": env["SENSEGATE_STACK_KAFKA_CONTROLLER"],
    }


async def _metadata(kwargs: dict[str, object]) -> str:
    """'ok' when a metadata request succeeds, else the client's error (type and message)."""
    admin = AIOKafkaAdminClient(**kwargs)
    try:
        await asyncio.wait_for(admin.start(), 10)
        topics = await asyncio.wait_for(admin.list_topics(), 10)
        return f"ok ({len(topics)} topics)"
    except Exception as exc:  # any refusal counts: connection closed, auth failed, timeout
        return f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):  # a client that never connected may fail to close
            await admin.close()


def _service_config(stack: StackAddresses, consumer: str) -> KafkaConfig:
    env = consumer_env(stack.state, consumer)
    return KafkaConfig(
        bootstrap_servers=env["SENSEGATE_KAFKA__BOOTSTRAP_SERVERS"],
        sasl_username=env["SENSEGATE_KAFKA__SASL_USERNAME"],
        sasl_password=SecretStr(env["SENSEGATE_KAFKA__SASL_PASSWORD"]),
        ssl_cafile=Path(env["SENSEGATE_KAFKA__SSL_CAFILE"]),
        request_timeout_ms=5000,
    )


@pytest.mark.parametrize("mode", ["plaintext", "tls", "sasl-wrong-password"])
async def test_client_without_valid_credentials_is_refused_on_every_listener(
    stack: StackAddresses, mode: str
) -> None:
    admin = config_for(stack.kafka_bootstrap)
    results = {}
    for name, address in _listeners(stack).items():
        kwargs: dict[str, object] = {"bootstrap_servers": address, "request_timeout_ms": 3000}
        if mode == "tls":
            kwargs.update(security_protocol="SSL", ssl_context=admin.ssl_context())
        elif mode == "sasl-wrong-password":
            kwargs.update(
                security_protocol="SASL_SSL" if "SSL" in name else "SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=admin.sasl_username,
                sasl_plain_password=uuid.uuid4().hex,  # a random wrong password
            )
            if "SSL" in name:
                kwargs["ssl_context"] = admin.ssl_context()
        results[name] = await _metadata(kwargs)
    refused = {n: r for n, r in results.items() if not r.startswith("ok")}
    assert refused == results, f"an unauthenticated {mode} client got in: {results}"


async def test_admin_principal_can_on_both_client_listeners(stack: StackAddresses) -> None:
    admin = config_for(stack.kafka_bootstrap)
    assert (await _metadata(admin.client_kwargs())).startswith("ok")
    sasl = admin.model_copy(
        update={"bootstrap_servers": stack.kafka_sasl_bootstrap, "security_protocol": "SASL_PLAINTEXT"}
    )
    assert (await _metadata(sasl.client_kwargs())).startswith("ok")


async def _read(config: KafkaConfig, topic: str, seconds: float = 6.0) -> list[bytes]:
    """Values of partition 0 of ``topic`` readable by ``config``'s principal within ``seconds``.

    A principal that may not even describe the topic gets no metadata (and so nothing); one that
    may describe but not read gets TOPIC_AUTHORIZATION_FAILED on fetch: both read nothing.
    """
    consumer = AIOKafkaConsumer(**config.client_kwargs(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        found: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline and not found:
            try:
                batch = await consumer.getmany(timeout_ms=500)
            except TopicAuthorizationFailedError:
                return []
            found += [m.value for msgs in batch.values() for m in msgs if m.value is not None]
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def marked_topic(stack: StackAddresses) -> AsyncIterator[tuple[str, bytes]]:
    """A fresh data topic and a share topic each holding one marker record (written as admin)."""
    admin = config_for(stack.kafka_bootstrap)
    token = uuid.uuid4().hex[:8]
    topics = [f"sensegate.data.sec_{token}", f"sensegate.share.sec_{token}"]
    client = AIOKafkaAdminClient(**admin.client_kwargs())
    await client.start()
    await client.create_topics([NewTopic(t, 1, 1) for t in topics])
    producer = AIOKafkaProducer(**admin.client_kwargs(), acks="all")
    await producer.start()
    marker = f"marker-{token}".encode()
    for topic in topics:
        await producer.send_and_wait(topic, marker, partition=0)
    await producer.stop()
    try:
        yield token, marker
    finally:
        await client.delete_topics(topics)
        await client.close()


async def test_gateway_principal_cannot_read_data_topics(
    stack: StackAddresses, marked_topic: tuple[str, bytes]
) -> None:
    token, marker = marked_topic
    topic = f"sensegate.data.sec_{token}"
    assert await _read(config_for(stack.kafka_bootstrap), topic) == [marker]  # the admin can
    assert await _read(_service_config(stack, "gateway"), topic) == []


async def test_consumer_without_a_grant_cannot_read_share_topics(
    stack: StackAddresses, marked_topic: tuple[str, bytes]
) -> None:
    token, marker = marked_topic
    topic = f"sensegate.share.sec_{token}"
    user, password = f"nogrant-{token}", uuid.uuid4().hex
    admin = config_for(stack.kafka_bootstrap)
    async with KafkaSecurityAdmin(admin) as security:
        await security.upsert_scram_user(user, password)
    try:
        # A valid login with no ACL: authenticated, yet nothing to read.
        stranger = admin.model_copy(
            update={"sasl_username": user, "sasl_password": SecretStr(password)}
        )
        assert (await _metadata(stranger.client_kwargs())).startswith("ok")
        assert await _read(stranger, topic) == []
        # The share service itself writes share topics but may not read them back.
        assert await _read(_service_config(stack, "share"), topic) == []
        assert await _read(admin, topic) == [marker]
    finally:
        async with KafkaSecurityAdmin(admin) as security:
            await security.delete_scram_user(user)
