"""Helpers of the objection tests: store and share records, read a topic with keys and headers, run the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts.record import DatasetRecord
from contracts.settings import KafkaConfig
from contracts.topics import data_topic
from processors.catalog import Catalog
from processors.share.config import ShareSettings
from processors.share.service import run_share
from processors.sinks.config import ProvenanceConfig
from runtime.kafka_client import config_for
from stack.credentials import Addresses
from tests.fixtures.services import StackAddresses
from tests.fixtures.storage import run_cli
from tests.integration.provenance.helpers import store
from tests.integration.share.helpers import produce


@dataclass(frozen=True)
class Seen:
    """One Kafka record as a consumer sees it."""

    key: str
    value: bytes | None
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        """The value as JSON (not for tombstones)."""
        assert self.value is not None
        parsed: dict[str, Any] = json.loads(self.value)
        return parsed


async def read_topic(config: KafkaConfig, topic: str, timeout_s: float = 20.0) -> list[Seen]:
    """Every record of ``topic`` from the beginning, in partition order."""
    consumer = AIOKafkaConsumer(
        topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
        **config.client_kwargs(),
    )  # fmt: skip
    seen: list[Seen] = []
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=700)
            for messages in batch.values():
                seen += [
                    Seen((m.key or b"").decode(), m.value,
                         {k: v.decode() for k, v in m.headers})
                    for m in messages
                ]  # fmt: skip
            assigned = consumer.assignment()
            if not assigned:
                continue
            ends = await consumer.end_offsets(list(assigned))
            positions = {tp: await consumer.position(tp) for tp in assigned}
            if not batch and all(positions[tp] >= ends[tp] for tp in assigned):
                break
    finally:
        await consumer.stop()
    return seen


def latest_by_key(records: list[Seen]) -> dict[str, Seen]:
    """What a compacting consumer keeps: the last record per key."""
    return {r.key: r for r in records}


def cli(
    env: dict[str, str], *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m processors objections ARGS`` acting as the unit holding ``token``."""
    extra = {"SENSEGATE_OBJECTIONS__TOKEN": token} if token else {}
    return run_cli("objections", *args, env={**env, **extra})


def cli_env(stack: StackAddresses, schema: str, seed: str, prefix: str) -> dict[str, str]:
    """Environment of the CLI for a test's schema, signing key and topic prefix.

    The CLI runs as the objections service's own database role (least privilege); its Kafka
    principal's ACLs cover only the stack's prefix, so this test's private topics use the admin.
    ``_REGISTRY_DSN`` (no ``SENSEGATE_`` prefix: settings ignore it) is for issuing tokens.
    """
    roles = Addresses.from_state(stack.state)
    return {
        "SENSEGATE_DB__DSN": roles.dsn("objections"),
        "_REGISTRY_DSN": roles.dsn("registry"),
        "SENSEGATE_DB__SCHEMA_NAME": schema,
        "SENSEGATE_PROVENANCE__SIGNING_KEY": seed,
        "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "SENSEGATE_KAFKA__TOPIC_PREFIX": prefix,
    }


def topic_prefix(schema: str) -> str:
    """A topic prefix unique to this test run (the schema name ends in a random token)."""
    return f"obj{hashlib.sha256(schema.encode()).hexdigest()[:12]}."


async def publish_tiers(
    kafka: KafkaConfig, catalog: Catalog, records: Sequence[DatasetRecord]
) -> None:
    """The normal pipeline's share stage: data topic -> share and open topics."""
    for code in {r.dataset for r in records}:
        await produce(
            kafka, data_topic(kafka.topic_prefix, code),
            [(r.kafka_key(), r.to_kafka_value()) for r in records if r.dataset == code],
        )  # fmt: skip
    settings = ShareSettings(kafka=kafka, share_group_id=f"{kafka.topic_prefix}share")
    await asyncio.wait_for(run_share(settings, catalog, idle_exit_s=3.0), 120)


async def stored_and_shared(  # noqa: PLR0917 - the test's fixtures, in their usual order
    stack: StackAddresses,
    schema: str,
    catalog: Catalog,
    provenance: ProvenanceConfig,
    seed: str,
    records: Sequence[DatasetRecord],
) -> tuple[KafkaConfig, dict[str, str]]:
    """Store ``records`` through the sink and the share stage; returns the Kafka config and CLI env."""
    prefix = topic_prefix(schema)
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=prefix)  # the operator's SCRAM login
    await store(stack.pg_dsn, schema, catalog, records, provenance, prefix=prefix)
    await publish_tiers(kafka, catalog, records)
    return kafka, cli_env(stack, schema, seed, prefix)
