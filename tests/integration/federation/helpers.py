"""Helpers of the federation tests: an instance on the shared stack replicating to the province."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from processors.catalog.loader import Catalog, catalog_from_entries
from processors.federation import FederationConfig
from processors.federation.configure import Configured, configure_instance
from processors.federation.grants import apply_province_grants
from processors.federation.province_io import partitions_of
from processors.provenance.keys import Signer, generate_seed
from runtime.kafka_client import config_for
from tests.fixtures.province import MirrorProcess
from tests.fixtures.secure_kafka import SecureKafka
from tests.fixtures.services import StackAddresses

Headers = tuple[tuple[str, bytes], ...]
Row = tuple[bytes | None, bytes, Headers]


def instance_admin(stack: StackAddresses, prefix: str) -> KafkaConfig:
    """The instance's ACL administrator (the operator's admin SCRAM login) under a private prefix."""
    return config_for(stack.kafka_bootstrap, topic_prefix=prefix)


def catalog_with_scope(code: str, scope: tuple[str, ...]) -> Catalog:
    """The shipped catalog with one conditional entry's share scope replaced."""
    entries = []
    for entry in load_catalog():
        if entry.code != code:
            entries.append(entry)
            continue
        assert entry.share_terms is not None
        terms = entry.share_terms.model_copy(update={"scope": scope})
        entries.append(entry.model_copy(update={"share_terms": terms}))
    return catalog_from_entries(entries)


@dataclass
class Instance:
    """One sensegate instance federating to the province: its code, prefix, MirrorMaker."""

    code: str
    admin: KafkaConfig
    fed: FederationConfig
    folder: Path
    mirror: MirrorProcess
    signer: Signer

    @property
    def prefix(self) -> str:
        """Topic prefix of this instance's pipeline."""
        return self.admin.topic_prefix

    def upstream(self, topic: str) -> str:
        """Name of an instance topic at the province."""
        return f"{self.code}.{topic}"

    def replication_login(self) -> KafkaConfig:
        """The instance-side replication principal, as MirrorMaker logs in (SASL listener)."""
        secret = (self.folder / "replication.secret").read_text().strip()
        return KafkaConfig(
            bootstrap_servers=self.fed.source_bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=self.fed.replication_user,
            sasl_password=SecretStr(secret),
            topic_prefix=self.prefix,
        )

    async def configure(self, catalog: Catalog) -> Configured:
        """Apply the catalog's allow-list (as ``make up`` / ``services.sh federate`` do)."""
        return await configure_instance(
            self.admin,
            self.fed,
            catalog,
            self.folder,
            public_key=self.signer.public_key,
            replication_factor=1,
        )


async def new_instance(stack: StackAddresses, province: SecureKafka, tmp: Path) -> Instance:
    """A fresh instance code and prefix, admitted at the province (SCRAM user + prefix ACLs)."""
    tag = uuid.uuid4().hex[:6]
    code = f"city_{tag}"
    password = uuid.uuid4().hex
    user = f"instance-{code}"
    await apply_province_grants(province.config(), user, password, code)
    fed = FederationConfig(
        instance_code=code,
        upstream_bootstrap=province.bootstrap,
        upstream_security_protocol="SASL_SSL",
        upstream_username=user,
        upstream_password=SecretStr(password),
        upstream_truststore=str(province.state / "pki" / "ca.crt"),
        source_bootstrap=stack.kafka_sasl_bootstrap,
        region="220100",
    )
    folder = tmp / code
    mirror = MirrorProcess(folder / "mm2.properties", folder / "logs")
    admin = instance_admin(stack, f"sgfed{tag}.")
    return Instance(code, admin, fed, folder, mirror, Signer.from_text(generate_seed()))


async def produce(kafka: KafkaConfig, topic: str, rows: Sequence[Row]) -> None:
    """Produce rows in order and wait for every acknowledgement."""
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.client_kwargs())
    try:
        await producer.start()
        futures = [
            await producer.send(topic, value, key=key, headers=list(headers))
            for key, value, headers in rows
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def topics_of(kafka: KafkaConfig) -> set[str]:
    """Topic names a principal can see."""
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def read_until(
    kafka: KafkaConfig, topic: str, done: Any, timeout_s: float = 120.0
) -> list[Any]:
    """Consume ``topic`` from the start until ``done(records)`` holds or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    numbers = await partitions_of(kafka, topic)
    while not numbers:
        if time.monotonic() > deadline:
            return []
        await asyncio.sleep(1.0)
        numbers = await partitions_of(kafka, topic)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.client_kwargs())
    await consumer.start()
    out: list[Any] = []
    try:
        parts = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while not done(out) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


def share_rows(run: str, count: int, keys: int = 5, start: int = 0) -> list[Row]:
    """Share-tier-like records: key per series, JSON value with a unique record_id and a sequence."""
    rows: list[Row] = []
    for i in range(start, start + count):
        key = f"series-{i % keys}".encode()
        value = json.dumps({"record_id": f"{run}-{i}", "seq": i // keys}).encode()
        headers = (
            ("sg.rule_set", b"agri_soil"),
            ("sg.tier", b"share"),
            ("sg.bin", bytes([i % 256, 0, 255])),
        )
        rows.append((key, value, headers))
    return rows


def ids_from(rows: Sequence[Row]) -> list[str]:
    """record_id of each produced row."""
    return [str(json.loads(v)["record_id"]) for _k, v, _h in rows]


def ids(records: Sequence[Any]) -> list[str]:
    """record_id of each consumed record, in consumption order."""
    return [str(json.loads(r.value)["record_id"]) for r in records]


async def feed(
    kafka: KafkaConfig, topic: str, rows: Sequence[Row], batch: int, pause_s: float
) -> None:
    """Produce rows in batches with a pause between them (a steady stream), one producer."""
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.client_kwargs())
    try:
        await producer.start()
        for i in range(0, len(rows), batch):
            futures = [
                await producer.send(topic, value, key=key, headers=list(headers))
                for key, value, headers in rows[i : i + batch]
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()
