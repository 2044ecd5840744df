"""C14 change control in PostgreSQL: signers, the signed append-only change log, propose/review/apply.

A change of a registered entry is ``proposed`` (signed by its author), ``reviewed`` (signed by a
different principal, approve or refuse) and made ``effective`` (signed; registers the new
version). ``catalog register`` refuses a changed definition that has no effective change
(``processors.catalog.store.register_entry``). Grant revocation on tightening is the caller's part (it needs Kafka):
``processors.cli.catalog_changes``.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import sql
from psycopg.types.json import Jsonb

from processors.catalog.changes import (
    GENESIS,
    Direction,
    Signer,
    canonical,
    definition_diff,
    direction_of,
    key_id_of,
    public_key_b64,
    sha256_hex,
    verify_event,
)
from processors.catalog.ddl import MIGRATIONS_DIR
from processors.catalog.exceptions import ChangeError
from processors.catalog.models import DatasetEntry
from processors.catalog.store import RegistrationResult, register_entry

__all__ = [
    "ChangeEvent",
    "ChangeLog",
    "ensure_change_schema",
]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION = "0160_catalog_changes.sql"


async def ensure_change_schema(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Apply 0160_catalog_changes.sql idempotently into ``schema``."""
    if not _SCHEMA.match(schema):
        msg = f"invalid schema name {schema!r}"
        raise ChangeError(msg)
    text = (MIGRATIONS_DIR / _MIGRATION).read_text(encoding="utf-8")
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s)",
            (zlib.crc32(f"sensegate-ddl:{schema}".encode()) & 0x7FFFFFFF,),
        )
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        await conn.execute(sql.SQL(text))


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One stored event with its verification result."""

    seq: int
    change_id: str
    code: str
    action: str
    actor: str
    key_id: str
    body: dict[str, Any]
    body_sha256: str
    prev_sha256: str
    signature: str
    verified: bool


class ChangeLog:
    """The change log of one schema over one connection; every write is one transaction."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], schema: str = "sensegate") -> None:
        if not _SCHEMA.match(schema):
            msg = f"invalid schema name {schema!r}"
            raise ChangeError(msg)
        self._conn = conn
        self._schema = schema

    def _t(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self._schema), sql.Identifier(name))

    async def add_signer(self, principal: str, public_key: str) -> str:
        """Register a principal's public key (base64 raw Ed25519); returns its key id."""
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key_id = key_id_of(key)
        await self._conn.execute(
            sql.SQL(
                "INSERT INTO {} (key_id, principal, public_key) VALUES (%s, %s, %s)"
                " ON CONFLICT (key_id) DO NOTHING"
            ).format(self._t("catalog_signer")),
            (key_id, principal, public_key_b64(key)),
        )
        await self._conn.commit()
        return key_id

    async def _signer_principal(self, key_id: str) -> str | None:
        cur = await self._conn.execute(
            sql.SQL("SELECT principal FROM {} WHERE key_id = %s").format(self._t("catalog_signer")),
            (key_id,),
        )
        row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def _append(
        self, signer: Signer, action: str, change_id: str, code: str, payload: dict[str, Any]
    ) -> ChangeEvent:
        principal = await self._signer_principal(signer.key_id)
        if principal != signer.principal:
            msg = (
                f"C14: key {signer.key_id} is not a registered signer of {signer.principal!r}; "
                "an unsigned or foreign-signed change is refused"
            )
            raise ChangeError(msg)
        table = self._t("catalog_change_event")
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(%s)",
            (zlib.crc32(f"sensegate-catalog-changes:{self._schema}".encode()) & 0x7FFFFFFF,),
        )
        cur = await self._conn.execute(
            sql.SQL("SELECT body_sha256 FROM {} ORDER BY seq DESC LIMIT 1").format(table)
        )
        last = await cur.fetchone()
        body = payload | {
            "action": action,
            "change_id": change_id,
            "code": code,
            "actor": signer.principal,
            "key_id": signer.key_id,
            "at": datetime.now(UTC).isoformat(),
            "prev_sha256": GENESIS if last is None else str(last[0]),
        }
        digest, signature = sha256_hex(canonical(body)), signer.sign(body)
        cur = await self._conn.execute(
            sql.SQL(
                "INSERT INTO {} (change_id, code, action, actor, key_id, body, body_sha256,"
                " prev_sha256, signature) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING seq"
            ).format(table),
            (change_id, code, action, signer.principal, signer.key_id, Jsonb(body), digest,
             body["prev_sha256"], signature),
        )  # fmt: skip
        row = await cur.fetchone()
        assert row is not None  # noqa: S101 - RETURNING always yields a row
        return ChangeEvent(int(row[0]), change_id, code, action, signer.principal, signer.key_id,
                           body, digest, body["prev_sha256"], signature, True)  # fmt: skip

    async def events(self, code: str | None = None, change_id: str | None = None) -> list[ChangeEvent]:
        """Events (oldest first), each with its signature and chain link verified."""
        cur = await self._conn.execute(
            sql.SQL(
                "SELECT e.seq, e.change_id, e.code, e.action, e.actor, e.key_id, e.body,"
                " e.body_sha256, e.prev_sha256, e.signature, s.public_key, s.principal"
                " FROM {} e JOIN {} s USING (key_id) ORDER BY e.seq"
            ).format(self._t("catalog_change_event"), self._t("catalog_signer"))
        )
        out: list[ChangeEvent] = []
        prev = GENESIS
        for row in await cur.fetchall():
            body = dict(row[6])
            ok = (
                verify_event(row[10], body, row[9])
                and sha256_hex(canonical(body)) == row[7]
                and body.get("prev_sha256") == prev == row[8]
                and body.get("actor") == row[4] == row[11]
                and body.get("change_id") == row[1]
                and body.get("action") == row[3]
            )
            prev = row[7]
            if (code is None or row[2] == code) and (change_id is None or row[1] == change_id):
                out.append(ChangeEvent(int(row[0]), row[1], row[2], row[3], row[4], row[5], body,
                                       row[7], row[8], row[9], ok))  # fmt: skip
        return out

    async def registered(self, code: str) -> dict[int, dict[str, Any]]:
        """Registered definitions of ``code`` by version."""
        cur = await self._conn.execute(
            sql.SQL("SELECT version, definition FROM {} WHERE code = %s").format(
                self._t("catalog_entry")
            ),
            (code,),
        )
        return {int(v): dict(d) for v, d in await cur.fetchall()}

    async def propose(self, entry: DatasetEntry, author: Signer) -> tuple[ChangeEvent, Direction]:
        """Record a signed proposal to change a registered entry into ``entry``."""
        async with self._conn.transaction():
            known = await self.registered(entry.code)
            if not known:
                msg = f"C14: {entry.code} is not registered yet; 'catalog register' registers it"
                raise ChangeError(msg)
            base_version = max(known)
            base = known[base_version]
            new = entry.model_copy(update={"version": base_version + 1}).definition()
            diff = definition_diff(base, new)
            if not diff:
                msg = f"C14: {entry.code}: the definition equals registered version {base_version}"
                raise ChangeError(msg)
            direction = direction_of(base, new)
            digest = entry.content_sha256()
            change_id = sha256_hex(canonical([entry.code, base_version, digest, author.principal,
                                              datetime.now(UTC).isoformat()]))[:16]  # fmt: skip
            payload = {
                "base_version": base_version,
                "definition": new,
                "definition_sha256": digest,
                "direction": direction,
                "fields": sorted(diff),
            }
            event = await self._append(author, "proposed", change_id, entry.code, payload)
        return event, direction

    async def _state(self, change_id: str) -> list[ChangeEvent]:
        events = await self.events(change_id=change_id)
        if not events:
            msg = f"C14: no change {change_id!r}"
            raise ChangeError(msg)
        if not all(e.verified for e in events):
            msg = f"C14: change {change_id} fails signature or chain verification; refused"
            raise ChangeError(msg)
        return events

    async def review(
        self, change_id: str, reviewer: Signer, *, approve: bool, note: str = ""
    ) -> ChangeEvent:
        """Sign a review; the reviewer must be another principal than the author."""
        async with self._conn.transaction():
            events = await self._state(change_id)
            proposal = events[0]
            if len(events) > 1:
                msg = f"C14: change {change_id} is already {events[-1].action}"
                raise ChangeError(msg)
            if reviewer.principal == proposal.actor:
                msg = (
                    f"C14: change {change_id} was proposed by {proposal.actor!r}; a review by "
                    "its own author is refused (a second principal must review)"
                )
                raise ChangeError(msg)
            payload = {"decision": "approved" if approve else "refused", "note": note}
            return await self._append(reviewer, "reviewed", change_id, proposal.code, payload)

    async def apply(self, change_id: str, signer: Signer) -> RegistrationResult:
        """Make an approved change effective: register its definition as the next version."""
        async with self._conn.transaction():
            events = await self._state(change_id)
            proposal = events[0]
            reviewed = [e for e in events if e.action == "reviewed"]
            if not reviewed or reviewed[-1].body.get("decision") != "approved":
                state = reviewed[-1].body.get("decision") if reviewed else "not reviewed"
                msg = f"C14: change {change_id} is {state}; only an approved review makes it effective"
                raise ChangeError(msg)
            if any(e.action == "effective" for e in events):
                msg = f"C14: change {change_id} is already effective"
                raise ChangeError(msg)
            known = await self.registered(proposal.code)
            if max(known) != proposal.body["base_version"]:
                msg = (
                    f"C14: change {change_id} was proposed against version "
                    f"{proposal.body['base_version']}, now {max(known)}: propose it again"
                )
                raise ChangeError(msg)
            entry = DatasetEntry.model_validate(proposal.body["definition"])
            result = await register_entry(self._conn, entry, self._schema, reviewed=True)
            await self._append(signer, "effective", change_id, proposal.code,
                               {"version": result.version,
                                "definition_sha256": proposal.body["definition_sha256"]})  # fmt: skip
        return result
