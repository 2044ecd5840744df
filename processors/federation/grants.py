"""Principals of replication on both sides: the instance's reader and the province's writer.

Both are SCRAM users with ALLOW bindings only. Re-applying a set removes what the previous set
allowed and the new one does not, so tightening the catalog revokes the read at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.settings import KafkaConfig
from processors.federation.mm2 import instance_acls, province_acls
from processors.share.kafka_acl_admin import AclBinding, KafkaSecurityAdmin

__all__ = ["apply_instance_grants", "apply_province_grants", "replace_acls"]


async def replace_acls(
    admin: KafkaSecurityAdmin, principal: str, wanted: Sequence[AclBinding]
) -> tuple[int, int]:
    """Make ``principal``'s ALLOW bindings exactly ``wanted``; returns (added, removed)."""
    current = set(await admin.describe_acls(principal))
    stale = sorted(current - set(wanted))
    # Remove first: a tightened scope must not stay readable while the rest is being added.
    removed = await admin.delete_acls(stale) if stale else 0
    fresh = sorted(set(wanted) - current)
    added = await admin.create_acls(fresh) if fresh else 0
    return added, removed


async def apply_instance_grants(
    admin_kafka: KafkaConfig, user: str, password: str | None, topics: Sequence[str]
) -> tuple[int, int]:
    """Create (or re-key) the instance's replication user and confine it to ``topics``."""
    async with KafkaSecurityAdmin(admin_kafka) as admin:
        if password is not None:
            await admin.upsert_scram_user(user, password)
        return await replace_acls(admin, f"User:{user}", instance_acls(user, topics))


async def apply_province_grants(
    province_admin: KafkaConfig, user: str, password: str, code: str
) -> tuple[int, int]:
    """At the province: the instance's SCRAM user, allowed only under ``<code>.``."""
    async with KafkaSecurityAdmin(province_admin) as admin:
        await admin.upsert_scram_user(user, password)
        return await replace_acls(admin, f"User:{user}", province_acls(user, code))
