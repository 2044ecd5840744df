"""PostgreSQL store of objection cases: cases, signed chained events and unit tokens.

A case row is written once; its state is its latest event. Each event's body is the canonical JSON
of ``{case_id, seq, state, actor, at, reason, detail, prev}`` signed with the log key, where
``prev`` is the SHA-256 of the previous event's body, so a removed or edited event breaks the
chain (``verify_case_chain``). Both tables refuse UPDATE and DELETE (trigger).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from contracts.credential import new_credential
from processors.objections.exceptions import CaseNotFound
from processors.objections.models import CaseEvent, CaseView, State, SubmitRequest
from processors.provenance.canonical import canonical_bytes, iso_utc
from processors.provenance.keys import Signer, verify_signature

__all__ = [
    "GENESIS",
    "append_event",
    "authenticate",
    "insert_case",
    "issue_token",
    "list_case_ids",
    "load_case",
    "revoke_tokens",
    "verify_case_chain",
]

GENESIS = "0" * 64
_CASE_COLUMNS = (
    "case_id, dataset, record_id, provider, objector, objector_kind, claim, evidence, "
    "proposed_values, received_at, due_at"
)


def _token_hash(token: str) -> str:
    # Tokens are 256-bit random values, so a plain SHA-256 is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(conn: AsyncConnection[Any], unit: str) -> str:
    """Create an API token for ``unit``; the token is returned once and only its hash is kept."""
    token = new_credential(32)
    await conn.execute(
        "INSERT INTO objection_unit_token (token_sha256, unit) VALUES (%s, %s)",
        (_token_hash(token), unit),
    )
    return token


async def revoke_tokens(conn: AsyncConnection[Any], unit: str) -> int:
    """Revoke every live token of ``unit``; returns how many."""
    cur = await conn.execute(
        "UPDATE objection_unit_token SET revoked_at = now() WHERE unit = %s AND revoked_at IS NULL",
        (unit,),
    )
    return cur.rowcount


async def authenticate(conn: AsyncConnection[Any], token: str) -> str | None:
    """The unit a live token belongs to, or None."""
    cur = await conn.execute(
        "SELECT unit FROM objection_unit_token WHERE token_sha256 = %s AND revoked_at IS NULL",
        (_token_hash(token),),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


def _event_body(
    case_id: str, seq: int, *, state: State, actor: str, at: datetime, reason: str,
    detail: dict[str, Any], prev: str,
) -> bytes:  # fmt: skip
    doc = {
        "case_id": case_id, "seq": seq, "state": state.value, "actor": actor, "at": iso_utc(at),
        "reason": reason, "detail": detail, "prev": prev,
    }  # fmt: skip
    return canonical_bytes(doc)


async def insert_case(
    conn: AsyncConnection[Any],
    *,
    case_id: str,
    request: SubmitRequest,
    record_id: str | None,
    provider: str,
    objector: str,
    objector_kind: str,
    received_at: datetime,
    due_at: datetime,
) -> None:
    """Write the case row (once); the caller appends the RECEIVED event in the same transaction."""
    await conn.execute(
        "INSERT INTO objection_case (case_id, dataset, record_id, natural_key, provider, objector, "
        "objector_kind, claim, evidence, proposed_values, contact, received_at, due_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            case_id, request.dataset, record_id, request.natural_key, provider, objector,
            objector_kind, request.claim, request.evidence,
            Jsonb(request.proposed_values) if request.proposed_values is not None else None,
            request.contact, received_at, due_at,
        ),
    )  # fmt: skip


async def append_event(
    conn: AsyncConnection[Any],
    signer: Signer,
    case_id: str,
    state: State,
    *,
    actor: str,
    at: datetime,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one signed event chained to the case's previous one (advisory lock on the case)."""
    # A transaction-scoped advisory lock serializes appends per case: a row lock (FOR UPDATE)
    # would need UPDATE privilege, which no role has on this append-only table.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('objection_case:' || %s))", (case_id,))
    cur = await conn.execute("SELECT 1 FROM objection_case WHERE case_id = %s", (case_id,))
    if await cur.fetchone() is None:
        raise CaseNotFound(case_id)
    cur = await conn.execute(
        "SELECT seq, body FROM objection_event WHERE case_id = %s ORDER BY seq DESC LIMIT 1",
        (case_id,),
    )
    last = await cur.fetchone()
    seq = int(last[0]) + 1 if last else 1
    prev = hashlib.sha256(str(last[1]).encode()).hexdigest() if last else GENESIS
    body = _event_body(
        case_id, seq, state=state, actor=actor, at=at, reason=reason, detail=detail or {}, prev=prev
    )
    signature = signer.sign(body)
    await conn.execute(
        "INSERT INTO objection_event (case_id, seq, state, actor, at, body, signature, key_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (case_id, seq, state.value, actor, at, body.decode(), signature, signer.key_id),
    )
    return CaseEvent(
        seq=seq, state=state, actor=actor, at=at, reason=reason, detail=detail or {}, prev=prev,
        signature=signature, key_id=signer.key_id,
    )  # fmt: skip


def _event_of(body: str, signature: str, key_id: str) -> CaseEvent:
    doc = json.loads(body)
    return CaseEvent(
        seq=doc["seq"], state=State(doc["state"]), actor=doc["actor"],
        at=datetime.fromisoformat(doc["at"].replace("Z", "+00:00")), reason=doc["reason"],
        detail=doc["detail"], prev=doc["prev"], signature=signature, key_id=key_id,
    )  # fmt: skip


async def load_case(conn: AsyncConnection[Any], case_id: str, now: datetime) -> CaseView:
    """A case with its events; raises ``CaseNotFound``."""
    cur = await conn.execute(
        f"SELECT {_CASE_COLUMNS} FROM objection_case WHERE case_id = %s",  # noqa: S608
        (case_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    cur = await conn.execute(
        "SELECT body, signature, key_id FROM objection_event WHERE case_id = %s ORDER BY seq",
        (case_id,),
    )
    events = tuple(_event_of(*r) for r in await cur.fetchall())
    state = events[-1].state if events else State.RECEIVED
    correction = next(
        (e.detail.get("correction_id") for e in events if e.state is State.CORRECTED), None
    )
    due_at = row[10]
    return CaseView(
        case_id=row[0], dataset=row[1], record_id=row[2], provider=row[3], objector=row[4],
        objector_kind=row[5], claim=row[6], evidence=row[7], proposed_values=row[8],
        state=state, received_at=row[9], due_at=due_at,
        overdue=state not in (State.ANSWERED, State.CLOSED) and now > due_at,
        correction_id=correction, events=events,
    )  # fmt: skip


async def list_case_ids(
    conn: AsyncConnection[Any],
    *,
    unit: str | None,
    now: datetime,
    overdue_only: bool = False,
    state: State | None = None,
) -> list[str]:
    """Case ids visible to ``unit`` (as provider or objector; every case when None), oldest first."""
    where = ["true"]
    params: list[Any] = []
    if unit is not None:
        where.append("(c.provider = %s OR c.objector = %s)")
        params += [unit, unit]
    if overdue_only:
        where.append("c.due_at < %s AND e.state NOT IN ('ANSWERED', 'CLOSED')")
        params.append(now)
    if state is not None:
        where.append("e.state = %s")
        params.append(state.value)
    cur = await conn.execute(
        "SELECT c.case_id FROM objection_case AS c JOIN LATERAL (SELECT state FROM objection_event "  # noqa: S608
        "AS k WHERE k.case_id = c.case_id ORDER BY seq DESC LIMIT 1) AS e ON true "
        f"WHERE {' AND '.join(where)} ORDER BY c.received_at, c.case_id",
        params,
    )
    return [str(r[0]) for r in await cur.fetchall()]


async def verify_case_chain(
    conn: AsyncConnection[Any], case_id: str, trusted_keys: list[str]
) -> list[str]:
    """Problems with a case's event chain (signature, link, numbering); empty when intact."""
    cur = await conn.execute(
        "SELECT seq, body, signature FROM objection_event WHERE case_id = %s ORDER BY seq",
        (case_id,),
    )
    problems: list[str] = []
    prev = GENESIS
    for expected, (seq, body, signature) in enumerate(await cur.fetchall(), start=1):
        if seq != expected:
            problems.append(f"event {expected} is missing")
        if not any(verify_signature(k, signature, body.encode()) for k in trusted_keys):
            problems.append(f"event {seq}: signature does not verify")
        if json.loads(body).get("prev") != prev:
            problems.append(f"event {seq}: not linked to the previous event")
        prev = hashlib.sha256(body.encode()).hexdigest()
    return problems
