"""Access grants against a Kafka with SCRAM + StandardAuthorizer and the shared PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contracts.settings import KafkaConfig
from processors.share.grants import GrantError, GrantService, ensure_grant_schema
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.rules import plan_targets
from tests.fixtures.secure_kafka import SecureKafka
from tests.fixtures.services import StackAddresses
from tests.fixtures.share_data import share_catalog
from tests.integration.share.helpers import produce, try_read

REFUSED = ("TopicAuthorizationFailedError", "GroupAuthorizationFailedError")


@pytest.fixture
async def grant_schema(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], str]]:
    schema = unique_name("grants")[:60]
    conn = await psycopg.AsyncConnection.connect(stack.pg_dsn, autocommit=True)
    try:
        await ensure_grant_schema(conn, schema)
        yield conn, schema
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def _until_refused(config: KafkaConfig, topic: str, group: str) -> int | str:
    # ACL and credential changes reach the broker's authorizer through the metadata log: retry a few
    # times instead of assuming it is instantaneous.
    result: int | str = 0
    for _ in range(10):
        result = await try_read(config, topic, group=group)
        if not isinstance(result, int):
            return result
        await asyncio.sleep(0.5)
    return result


async def test_grants_enforced_on_kafka(
    secure_kafka: SecureKafka,
    grant_schema: tuple[psycopg.AsyncConnection[Any], str],
    unique_name: Callable[[str], str],
) -> None:
    conn, schema = grant_schema
    prefix = unique_name("sg") + "."
    admin_cfg = secure_kafka.config().model_copy(update={"topic_prefix": prefix})
    catalog = share_catalog()
    targets, _ = plan_targets(catalog, prefix)
    tier_topics = sorted(t.topic for t in targets)
    for topic in tier_topics:
        await produce(admin_cfg, topic, [(b"k", b'{"x": 1}')])

    # a principal without any grant is refused on every share and open topic
    stranger = f"stranger-{prefix[:-1]}"
    async with KafkaSecurityAdmin(admin_cfg) as admin:
        await admin.upsert_scram_user(stranger, "stranger-password")
    stranger_cfg = secure_kafka.config(stranger, "stranger-password")
    for topic in tier_topics:
        assert await try_read(stranger_cfg, topic) in REFUSED, topic

    service = GrantService(conn, catalog, admin_cfg, schema=schema, actor="test")
    until = datetime.now(UTC) + timedelta(days=30)
    common: dict[str, Any] = {
        "scope": "Changchun",
        "legal_basis": "Jilin Big Data Regulation Art. 32",
        "until": until,
    }
    with pytest.raises(GrantError, match="not opened"):
        await service.apply(
            applicant="jl_transport_dept",
            dataset="v2x_participant",
            tier="open",
            purpose="traffic_management",
            **common,
        )
    with pytest.raises(GrantError, match="not shared"):
        await service.apply(
            applicant="jl_industry_dept",
            dataset="iiot_metric",
            tier="share",
            purpose="industrial_supervision",
            **common,
        )
    with pytest.raises(GrantError, match="purpose"):
        await service.apply(
            applicant="jl_transport_dept",
            dataset="v2x_participant",
            tier="share",
            purpose="marketing",
            **common,
        )
    with pytest.raises(GrantError, match="scope"):
        await service.apply(
            applicant="acme_ltd",
            dataset="v2x_participant",
            tier="share",
            purpose="traffic_management",
            **common,
        )

    grant = await service.apply(
        applicant="jl_transport_dept",
        dataset="v2x_participant",
        tier="share",
        purpose="traffic_management",
        **common,
    )
    assert grant.status == "pending"
    refused = await service.apply(
        applicant="jl_transport_dept",
        dataset="agri_soil",
        tier="open",
        purpose="agricultural_research",
        **common,
    )
    assert (
        await service.refuse(refused.grant_id, "duplicate of an existing grant")
    ).status == "refused"
    with pytest.raises(GrantError):
        await service.approve(refused.grant_id)

    approved, password = await service.approve(grant.grant_id)
    assert approved.status == "approved" and approved.topics == (f"{prefix}share.v2x_participant",)
    user = approved.principal.removeprefix("User:") if approved.principal else ""
    granted_cfg = secure_kafka.config(user, password)
    group = f"{approved.group_prefix}reader"
    # reads exactly its topic, with its own group, and nothing else
    assert await try_read(granted_cfg, f"{prefix}share.v2x_participant", group=group) == 1
    for topic in tier_topics:
        if topic != f"{prefix}share.v2x_participant":
            assert await try_read(granted_cfg, topic) in REFUSED, topic
    assert (
        await try_read(granted_cfg, f"{prefix}share.v2x_participant", group="other-group")
        in REFUSED
    )

    # revocation takes effect: the credential and ACLs are gone
    assert (await service.revoke(grant.grant_id)).status == "revoked"
    after = await _until_refused(granted_cfg, f"{prefix}share.v2x_participant", group)
    assert not isinstance(after, int)
    async with KafkaSecurityAdmin(admin_cfg) as admin:
        assert await admin.describe_acls(approved.principal) == []

    # expiry sweeps grants past their validity
    short = await service.apply(
        applicant="jl_emergency_mgmt",
        dataset="v2x_participant",
        tier="share",
        purpose="incident_response",
        **common,
    )
    short_ok, _ = await service.approve(short.grant_id)
    ended = await service.expire(now=until + timedelta(seconds=1))
    assert [g.grant_id for g in ended] == [short.grant_id] and ended[0].status == "expired"
    async with KafkaSecurityAdmin(admin_cfg) as admin:
        assert await admin.describe_acls(short_ok.principal) == []
    actions = [a for _at, a, _who, _d in await service.events(short.grant_id)]
    assert actions == ["applied", "approved", "expired"]
