"""C14 on the secure Kafka: a proposed tightening revokes an approved grant and its live consumer at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from processors.catalog import load_catalog, register_catalog
from processors.catalog.change_log import ChangeLog, ensure_change_schema
from processors.catalog.changes import Signer, public_key_b64
from processors.cli.catalog_changes import propose_change
from processors.share.grants import GrantService, ensure_grant_schema
from tests.fixtures.secure_kafka import SecureKafka
from tests.fixtures.services import StackAddresses
from tests.integration.share.helpers import produce, try_read

CATALOG = Path(__file__).resolve().parents[3] / "catalog"
_CLOSE_OPENING = (
    ("open_class: conditional", "open_class: none"),
    (
        "deidentification:\n  rules: []",
        "deidentification:\n  refuse_open: true\n  reason: opening withdrawn for review\n  rules: []",
    ),
    (", open: open.agri_soil}", "}"),
)


async def _poll(consumer: AIOKafkaConsumer, times: int) -> tuple[list[bytes], list[str]]:
    """Keys delivered by ``times`` polls, and the errors the polls raised (aiokafka raises some)."""
    keys: list[bytes] = []
    errors: list[str] = []
    for _ in range(times):
        try:
            batch = await consumer.getmany(timeout_ms=500)
        except KafkaError as exc:
            errors.append(type(exc).__name__)
            continue
        keys += [m.key or b"" for msgs in batch.values() for m in msgs]
    return keys, errors


async def test_tightening_revokes_a_live_consumer(
    secure_kafka: SecureKafka,
    stack: StackAddresses,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    catalog = load_catalog(root)
    schema = unique_name("tight")[:60]
    prefix = unique_name("sg") + "."
    admin = secure_kafka.config().model_copy(update={"topic_prefix": prefix})
    topic = f"{prefix}open.agri_soil"
    await produce(admin, topic, [(b"k1", b'{"n": 1}')])
    alice = Signer("alice", Ed25519PrivateKey.generate())
    conn = await psycopg.AsyncConnection.connect(stack.pg_dsn)
    consumer: AIOKafkaConsumer | None = None
    try:
        await register_catalog(conn, catalog, schema)
        await ensure_change_schema(conn, schema)
        await ensure_grant_schema(conn, schema)
        await ChangeLog(conn, schema).add_signer("alice", public_key_b64(alice.key.public_key()))
        grants = GrantService(conn, catalog, admin, schema=schema, actor="test")
        pending = await grants.apply(
            applicant="jl_transport_dept",
            dataset="agri_soil",
            tier="open",
            purpose="agricultural_research",
            scope="Changchun",
            legal_basis="Jilin Big Data Regulation Art. 35",
            until=datetime.now(UTC) + timedelta(days=30),
        )
        grant, password = await grants.approve(pending.grant_id)
        await conn.commit()
        user = (grant.principal or "").removeprefix("User:")
        consumer = AIOKafkaConsumer(
            topic,
            group_id=f"{grant.group_prefix}live",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **secure_kafka.config(user, password).client_kwargs(),
        )
        await consumer.start()
        seen = 0
        for _ in range(20):
            seen += sum(len(v) for v in (await consumer.getmany(timeout_ms=500)).values())
            if seen:
                break
        assert seen == 1  # the live consumer reads under its grant

        # the acceptance case of C14: a class is tightened (open conditional -> none)
        path = root / "agri_soil.yaml"
        text = path.read_text(encoding="utf-8")
        for old, new in _CLOSE_OPENING:
            assert old in text
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
        tightened = load_catalog(root)
        entry = tightened.get("agri_soil")
        assert entry is not None
        event, direction, ended = await propose_change(
            conn, entry, alice, catalog=tightened, kafka=admin, schema=schema
        )
        assert (direction, ended) == ("tighten", [grant.grant_id])
        assert (await grants.get(grant.grant_id)).status == "revoked"
        await produce(admin, topic, [(b"k2", b'{"n": 2}')])
        # Kafka checks ACLs when a fetch arrives: the one fetch the consumer already had in
        # flight (its current poll) may still return k2; every later fetch is refused by the
        # broker (aiokafka only logs that), so k3, produced after that poll, never arrives.
        after, refusals = await _poll(consumer, 4)
        await produce(admin, topic, [(b"k3", b'{"n": 3}')])
        later, more = await _poll(consumer, 6)
        print(f"tightening {event.change_id}: live consumer got {after + later} after the "
              f"revocation; raised {refusals + more}")  # fmt: skip
        assert set(after + later) <= {b"k2"}
        assert set(refusals + more) <= {"TopicAuthorizationFailedError", "GroupAuthorizationFailedError"}
        again = await try_read(secure_kafka.config(user, password), topic, group=f"{grant.group_prefix}x")
        assert not isinstance(again, int), again  # the credential itself is gone
    finally:
        if consumer is not None:
            await consumer.stop()
        await conn.rollback()
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        await conn.commit()
        await conn.close()
