"""Access grants (C12, C13): applications for share/open topics, review, Kafka principals, expiry.

Workflow: ``apply`` records a pending application after checking it against the catalog entry's
class and terms (purpose among the declared purposes, applicant within the declared scope for
conditional sharing). ``approve`` re-checks, creates a SCRAM principal with READ on exactly the
granted topic plus its own consumer-group prefix, and returns the one-time password (never
stored). ``refuse`` records why. ``revoke`` and ``expire`` remove the ACLs and the credential, then
close the grant; ``expire`` also revokes grants the current catalog no longer allows (C14).

Ordering: approval runs the Kafka calls inside the open database transaction, so a Kafka failure
leaves the grant pending; removal runs the Kafka calls first (idempotent), so a database failure is
fixed by running the command again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.credential import new_credential
from contracts.settings import KafkaConfig
from contracts.topics import open_topic, share_topic
from processors.catalog import Catalog, DatasetEntry
from processors.exceptions import ProcessorError
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.principals import grant_acls, grant_group_prefix, grant_user
from processors.share.rules import open_refusal

__all__ = ["Grant", "GrantError", "GrantService", "ensure_grant_schema", "grant_problems"]

logger = logging.getLogger(__name__)

MIGRATION = Path(__file__).resolve().parents[1] / "storage" / "migrations" / "0150_grants.sql"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class GrantError(ProcessorError):
    """An application or decision is not allowed (not retriable: fix the input)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One application and its decision, as stored."""

    grant_id: int
    applicant: str
    dataset: str
    tier: str
    purpose: str
    scope: str
    legal_basis: str
    valid_until: datetime
    catalog_version: int
    status: str
    topics: tuple[str, ...]
    principal: str | None
    group_prefix: str | None
    refusal_reason: str | None
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    ended_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Grant:
        """Build from a ``dict_row`` of ``access_grant``."""
        return cls(**{**row, "topics": tuple(row["topics"] or ())})


async def ensure_grant_schema(
    conn: psycopg.AsyncConnection[Any], schema: str = "sensegate"
) -> None:
    """Apply 0150_grants.sql idempotently, into ``schema`` (tests use a private one)."""
    if not _SCHEMA.match(schema):
        msg = f"invalid schema name {schema!r}"
        raise GrantError(msg)
    # Present already (the owner migrated it): skip the DDL, which the admin role may not run.
    cur = await conn.execute(
        "SELECT to_regclass(quote_ident(%s) || '.access_grant_event') IS NOT NULL", (schema,)
    )
    row = await cur.fetchone()
    if row is not None and row[0]:
        return
    sql = re.sub(r"\bsensegate\b", schema, MIGRATION.read_text())
    async with conn.transaction():
        # Serialise concurrent first runs (CREATE ... IF NOT EXISTS races on the catalog).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sensegate.0150_grants'))")
        await conn.execute(sql.encode())


def tier_topic(entry: DatasetEntry, tier: str, prefix: str) -> str:
    """The Kafka topic a grant for (entry, tier) reads."""
    return share_topic(prefix, entry.code) if tier == "share" else open_topic(prefix, entry.code)


def grant_problems(
    catalog: Catalog, dataset: str, tier: str, *, applicant: str, purpose: str, until: datetime
) -> list[str]:
    """Why an application may not be granted under the current catalog (empty: it may)."""
    entry = catalog.get(dataset)
    if entry is None:
        return [f"dataset {dataset!r} is not catalogued"]
    problems: list[str] = []
    cls = entry.share_class if tier == "share" else entry.open_class
    terms = entry.share_terms if tier == "share" else entry.open_terms
    if cls == "none":
        problems.append(
            f"{dataset} is not {'shared' if tier == 'share' else 'opened'} (class none)"
        )
        return problems
    if tier == "open" and (reason := open_refusal(entry, catalog.get(entry.derived_from or ""))):
        problems.append(f"{dataset} may not be opened: {reason}")
    if cls == "conditional" and terms is not None:
        if terms.purposes and purpose not in terms.purposes:
            problems.append(f"purpose {purpose!r} is not among {list(terms.purposes)}")
        if tier == "share" and terms.scope and applicant not in terms.scope:
            problems.append(
                f"applicant {applicant!r} is outside the share scope {list(terms.scope)}"
            )
    if until <= datetime.now(UTC):
        problems.append("valid_until is not in the future")
    return problems


class GrantService:
    """Grant workflow over one database connection and the Kafka cluster; one per CLI invocation."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        catalog: Catalog,
        kafka: KafkaConfig,
        *,
        schema: str = "sensegate",
        actor: str = "cli",
    ) -> None:
        if not _SCHEMA.match(schema):
            msg = f"invalid schema name {schema!r}"
            raise GrantError(msg)
        self._conn = conn
        self._catalog = catalog
        self._kafka = kafka
        self._t = f"{schema}.access_grant"
        self._ev = f"{schema}.access_grant_event"
        self._actor = actor

    async def _event(self, grant_id: int, action: str, detail: str | None = None) -> None:
        await self._conn.execute(
            f"INSERT INTO {self._ev} (grant_id, action, actor, detail) VALUES (%s, %s, %s, %s)",  # noqa: S608 - schema name validated
            (grant_id, action, self._actor, detail),
        )

    async def apply(
        self,
        *,
        applicant: str,
        dataset: str,
        tier: str,
        purpose: str,
        scope: str,
        legal_basis: str,
        until: datetime,
    ) -> Grant:
        """Record a pending application; raises GrantError when the catalog forbids it outright."""
        problems = grant_problems(
            self._catalog, dataset, tier, applicant=applicant, purpose=purpose, until=until
        )
        if problems:
            raise GrantError("; ".join(problems))
        entry = self._catalog.get(dataset)
        assert entry is not None  # noqa: S101 - grant_problems checked it
        async with self._conn.transaction():
            cur = await self._conn.execute(
                f"INSERT INTO {self._t} (applicant, dataset, tier, purpose, scope, legal_basis,"  # noqa: S608
                " valid_until, catalog_version) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING grant_id",
                (applicant, dataset, tier, purpose, scope, legal_basis, until, entry.version),
            )
            row = await cur.fetchone()
            assert row is not None  # noqa: S101 - RETURNING always yields a row
            await self._event(row[0], "applied", f"{tier} {dataset} for {purpose}")
        return await self.get(row[0])

    async def get(self, grant_id: int) -> Grant:
        """One grant; GrantError when unknown."""
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT * FROM {self._t} WHERE grant_id = %s", (grant_id,))  # noqa: S608
            row = await cur.fetchone()
        if row is None:
            msg = f"no grant {grant_id}"
            raise GrantError(msg)
        return Grant.from_row(row)

    async def list_grants(self, status: str | None = None) -> list[Grant]:
        """All grants, or those with one status, newest first."""
        where, params = ("WHERE status = %s", (status,)) if status else ("", ())
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT * FROM {self._t} {where} ORDER BY grant_id DESC", params)  # noqa: S608
            return [Grant.from_row(r) for r in await cur.fetchall()]

    async def events(self, grant_id: int) -> list[tuple[datetime, str, str, str | None]]:
        """Audit trail of one grant, oldest first."""
        cur = await self._conn.execute(
            f"SELECT at, action, actor, detail FROM {self._ev} WHERE grant_id = %s ORDER BY event_id",  # noqa: S608
            (grant_id,),
        )
        return [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]

    def _problems(self, grant: Grant, until: datetime) -> list[str]:
        """What the current catalog has against ``grant`` if it ran until ``until``."""
        return grant_problems(
            self._catalog,
            grant.dataset,
            grant.tier,
            applicant=grant.applicant,
            purpose=grant.purpose,
            until=until,
        )

    async def approve(self, grant_id: int) -> tuple[Grant, str]:
        """Approve a pending grant: create its principal and ACLs; returns (grant, one-time password)."""
        async with self._conn.transaction():
            grant = await self._locked(grant_id, "pending")
            problems = self._problems(grant, grant.valid_until)
            if problems:
                raise GrantError("; ".join(problems))
            entry = self._catalog.get(grant.dataset)
            assert entry is not None  # noqa: S101 - grant_problems checked it
            topic = tier_topic(entry, grant.tier, self._kafka.topic_prefix)
            user = grant_user(grant_id, grant.applicant)
            password = new_credential()
            await self._conn.execute(
                f"UPDATE {self._t} SET status = 'approved', topics = %s, principal = %s,"  # noqa: S608
                " group_prefix = %s, decided_at = now(), decided_by = %s WHERE grant_id = %s",
                ([topic], f"User:{user}", grant_group_prefix(grant_id), self._actor, grant_id),
            )
            await self._event(grant_id, "approved", f"principal User:{user} topics [{topic}]")
            async with KafkaSecurityAdmin(self._kafka) as admin:
                await admin.upsert_scram_user(user, password)
                await admin.create_acls(grant_acls(grant_id, grant.applicant, [topic]))
        logger.info("grant %d approved: User:%s may read %s", grant_id, user, topic)
        return await self.get(grant_id), password

    async def refuse(self, grant_id: int, why: str) -> Grant:
        """Refuse a pending grant, recording the reason."""
        async with self._conn.transaction():
            await self._locked(grant_id, "pending")
            await self._conn.execute(
                f"UPDATE {self._t} SET status = 'refused', refusal_reason = %s, decided_at = now(),"  # noqa: S608
                " decided_by = %s WHERE grant_id = %s",
                (why, self._actor, grant_id),
            )
            await self._event(grant_id, "refused", why)
        return await self.get(grant_id)

    async def revoke(self, grant_id: int, why: str = "revoked by operator") -> Grant:
        """Revoke an approved grant: remove its ACLs and credential, then close it."""
        return await self._end(grant_id, "revoked", why)

    async def expire(self, now: datetime | None = None) -> list[Grant]:
        """Close approved grants past valid_until, and those the current catalog no longer allows."""
        moment = now or datetime.now(UTC)
        ended: list[Grant] = []
        for grant in await self.list_grants("approved"):
            if grant.valid_until <= moment:
                ended.append(await self._end(grant.grant_id, "expired", "valid_until passed"))
                continue
            # The end date is what expiry itself checks; here only the catalog's current rules count.
            problems = self._problems(grant, datetime.max.replace(tzinfo=UTC))
            if problems:
                ended.append(
                    await self._end(grant.grant_id, "revoked", "catalog: " + "; ".join(problems))
                )
        return ended

    async def _end(self, grant_id: int, status: str, why: str) -> Grant:
        grant = await self.get(grant_id)
        if grant.status != "approved":
            msg = f"grant {grant_id} is {grant.status}, not approved"
            raise GrantError(msg)
        user = grant_user(grant_id, grant.applicant)
        async with KafkaSecurityAdmin(self._kafka) as admin:
            removed = await admin.delete_acls_of(f"User:{user}")
            await admin.delete_scram_user(user)
        async with self._conn.transaction():
            await self._conn.execute(
                f"UPDATE {self._t} SET status = %s, ended_at = now() WHERE grant_id = %s",  # noqa: S608
                (status, grant_id),
            )
            await self._event(grant_id, status, f"{why}; removed {len(removed)} ACLs")
        logger.info("grant %d %s: %s", grant_id, status, why)
        return await self.get(grant_id)

    async def _locked(self, grant_id: int, expected: str) -> Grant:
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                f"SELECT * FROM {self._t} WHERE grant_id = %s FOR UPDATE",  # noqa: S608
                (grant_id,),
            )
            row = await cur.fetchone()
        if row is None:
            msg = f"no grant {grant_id}"
            raise GrantError(msg)
        grant = Grant.from_row(row)
        if grant.status != expected:
            msg = f"grant {grant_id} is {grant.status}, not {expected}"
            raise GrantError(msg)
        return grant


def format_grant(grant: Grant) -> str:
    """Multi-line human-readable form for ``grants show``."""
    lines = [
        f"grant {grant.grant_id}: {grant.status}",
        f"  applicant     {grant.applicant}",
        f"  dataset/tier  {grant.dataset} / {grant.tier} (catalog v{grant.catalog_version})",
        f"  purpose       {grant.purpose}",
        f"  scope         {grant.scope}",
        f"  legal basis   {grant.legal_basis}",
        f"  valid until   {grant.valid_until.isoformat()}",
    ]
    if grant.principal:
        lines.append(f"  principal     {grant.principal} (groups {grant.group_prefix}*)")
        lines.append(f"  topics        {', '.join(grant.topics)}")
    if grant.refusal_reason:
        lines.append(f"  refused       {grant.refusal_reason}")
    return "\n".join(lines)


def grant_rows(grants: Sequence[Grant]) -> list[str]:
    """One line per grant for ``grants list``."""
    return [
        f"{g.grant_id:>5}  {g.status:<8}  {g.tier:<5}  {g.dataset:<20}  {g.applicant:<20}  "
        f"{g.valid_until:%Y-%m-%d %H:%M}  {g.purpose}"
        for g in grants
    ]
