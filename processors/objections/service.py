"""The objection operations with their rules, shared by the CLI and the HTTP API.

Who may do what:

* ``submit``: a registered unit (token) for any shared or opened dataset; a member of the public
  (no token) only for datasets whose open class is not ``none`` (the HTTP layer rate-limits them);
* ``decide`` and ``answer``: only the dataset's provider unit (catalog ``provider``);
* ``show``: the objector, the provider or an operator; ``close``: the objector or the provider.

A ``correct`` or ``withdraw`` decision appends the signed correction (``provenance.supersede``)
and the CORRECTED event in one transaction, signs a checkpoint, and then publishes the correction
downstream; a failed publication is repeated by ``publish_pending`` (nothing is lost).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from contracts.record import record_id_for
from processors.catalog import Catalog, DatasetEntry
from processors.objections.exceptions import (
    CaseNotFound,
    InvalidTransition,
    NotAllowed,
    ObjectionError,
)
from processors.objections.models import (
    ANSWERABLE,
    TRANSITIONS,
    AnswerRequest,
    CaseView,
    Decision,
    DecisionRequest,
    State,
    SubmitRequest,
    SubmitResponse,
)
from processors.objections.store import append_event, insert_case, list_case_ids, load_case
from processors.objections.workdays import add_working_days
from processors.provenance.checkpoint import write_checkpoints
from processors.provenance.corrections import CorrectionError, supersede
from processors.provenance.keys import Signer

__all__ = ["OPERATOR", "Objections", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a unit (authenticated by token), the public, or an operator (CLI, read-only)."""

    unit: str | None
    operator: bool = False

    @property
    def label(self) -> str:
        """Actor name written into events."""
        return self.unit or ("operator" if self.operator else "public")


OPERATOR = Principal(None, operator=True)
PUBLIC = Principal(None)


class Objections:
    """Objection operations on one database connection (autocommit; each call is a transaction)."""

    def __init__(
        self,
        conn: AsyncConnection[Any],
        catalog: Catalog,
        signer: Signer,
        *,
        origin: str = "sensegate",
        period_s: int = 86400,
    ) -> None:
        self.conn, self.catalog, self.signer = conn, catalog, signer
        self.origin, self.period_s = origin, period_s

    def _entry(self, dataset: str) -> DatasetEntry:
        entry = self.catalog.get(dataset)
        if entry is None or entry.status != "published":
            msg = f"dataset {dataset!r} is not a published catalog entry"
            raise CaseNotFound(msg)
        return entry

    async def _resolve(self, entry: DatasetEntry, req: SubmitRequest) -> str | None:
        """The stored record's id: given directly, from the natural key, or from an open record id."""
        candidate = req.record_id or record_id_for(entry.code, req.natural_key or "")
        cur = await self.conn.execute(
            "SELECT 1 FROM tlog_leaf WHERE ref_id = %s AND dataset = %s AND kind = 'record' LIMIT 1",
            (candidate, entry.code),
        )
        if await cur.fetchone() is not None:
            return candidate
        if req.record_id is None:
            return None
        # An open microdata id is sha256("open|<code>|<version>|<record id>"); find its source row.
        query = sql.SQL(
            "SELECT record_id FROM {} WHERE encode(sha256(convert_to("
            "'open|' || %s || '|' || %s || '|' || record_id, 'UTF8')), 'hex') = %s LIMIT 1"
        ).format(sql.Identifier(entry.storage_table))
        cur = await self.conn.execute(query, (entry.code, str(entry.version), req.record_id))
        row = await cur.fetchone()
        return str(row[0]) if row else None

    async def submit(self, who: Principal, req: SubmitRequest, now: datetime) -> SubmitResponse:
        """Open a case routed to the dataset's provider; RECEIVED is its first signed event."""
        entry = self._entry(req.dataset)
        if who.unit is None:
            if who.operator:
                msg = "an operator does not raise objections; use a unit token or --public"
                raise NotAllowed(msg)
            if entry.open_class == "none":
                msg = f"{entry.code} is not open data: objections need a unit account"
                raise NotAllowed(msg)
        elif (
            entry.share_class == "none"
            and entry.open_class == "none"
            and who.unit != entry.provider
        ):
            msg = f"{entry.code} is neither shared nor opened"
            raise NotAllowed(msg)
        record_id = await self._resolve(entry, req)
        if record_id is None:
            msg = f"no stored record of {entry.code} matches the objection"
            raise CaseNotFound(msg)
        case_id = uuid.uuid4().hex
        due = add_working_days(now, entry.objection_sla)
        async with self.conn.transaction():
            await insert_case(
                self.conn, case_id=case_id, request=req, record_id=record_id,
                provider=entry.provider, objector=who.label,
                objector_kind="unit" if who.unit else "public", received_at=now, due_at=due,
            )  # fmt: skip
            await append_event(
                self.conn, self.signer, case_id, State.RECEIVED, actor=who.label, at=now,
                reason=req.claim, detail={"record_id": record_id, "routed_to": entry.provider},
            )  # fmt: skip
        return SubmitResponse(
            case_id=case_id, state=State.RECEIVED, provider=entry.provider, due_at=due
        )

    async def show(self, who: Principal, case_id: str, now: datetime) -> CaseView:
        """A case for its objector, its provider or an operator."""
        case = await load_case(self.conn, case_id, now)
        if not who.operator and who.unit not in (case.provider, case.objector):
            if who.unit is None and case.objector_kind == "public":
                return case.model_copy(update={"objector": "public", "evidence": ""})
            raise CaseNotFound(case_id)  # not "forbidden": do not confirm that the case exists
        return case

    async def list(
        self, who: Principal, now: datetime, *, overdue_only: bool = False,
        state: State | None = None,
    ) -> list[CaseView]:  # fmt: skip
        """Cases the principal provides or raised (every case for an operator)."""
        if who.unit is None and not who.operator:
            raise NotAllowed("listing needs a unit token")  # noqa: EM101
        ids = await list_case_ids(
            self.conn, unit=who.unit, now=now, overdue_only=overdue_only, state=state
        )
        return [await load_case(self.conn, i, now) for i in ids]

    async def decide(
        self, who: Principal, case_id: str, req: DecisionRequest, now: datetime
    ) -> CaseView:
        """The provider's decision; ``correct``/``withdraw`` supersede the record (signed, logged)."""
        case = await load_case(self.conn, case_id, now)
        if who.unit is None or who.unit != case.provider:
            msg = f"only the provider {case.provider} may decide case {case_id}"
            raise NotAllowed(msg)
        allowed, target = TRANSITIONS[req.decision]
        if case.state not in allowed:
            msg = f"case {case_id} is {case.state}; '{req.decision}' needs {sorted(allowed)}"
            raise InvalidTransition(msg)
        detail: dict[str, Any] = {"decision": req.decision.value}
        async with self.conn.transaction():
            if req.decision in (Decision.CORRECT, Decision.WITHDRAW):
                if case.record_id is None:
                    raise ObjectionError("the case names no stored record")  # noqa: EM101
                basis = req.legal_basis or (
                    f"Jilin Big Data Regulation Art. 30, objection case {case_id}"
                )
                try:
                    event = await supersede(
                        self.conn, self.catalog, self.signer, case.record_id,
                        action="correct" if req.decision is Decision.CORRECT else "erase",
                        reason=f"objection {case_id}: {req.reason}", values=req.values,
                        legal_basis=basis, period_s=self.period_s,
                    )  # fmt: skip
                except CorrectionError as exc:
                    raise InvalidTransition(str(exc)) from exc
                detail["correction_id"] = event["correction_id"]
            await append_event(
                self.conn, self.signer, case_id, target, actor=who.label, at=now,
                reason=req.reason, detail=detail,
            )  # fmt: skip
        if "correction_id" in detail:
            await write_checkpoints(self.conn, self.signer, self.origin)
        return await load_case(self.conn, case_id, now)

    async def answer(
        self, who: Principal, case_id: str, req: AnswerRequest, now: datetime
    ) -> CaseView:
        """The provider's answer to the objector, after a decision."""
        case = await load_case(self.conn, case_id, now)
        if who.unit is None or who.unit != case.provider:
            msg = f"only the provider {case.provider} may answer case {case_id}"
            raise NotAllowed(msg)
        if case.state not in ANSWERABLE:
            msg = f"case {case_id} is {case.state}: decide it before answering"
            raise InvalidTransition(msg)
        async with self.conn.transaction():
            await append_event(
                self.conn, self.signer, case_id, State.ANSWERED, actor=who.label, at=now,
                reason=req.text,
            )  # fmt: skip
        return await load_case(self.conn, case_id, now)

    async def close(self, who: Principal, case_id: str, reason: str, now: datetime) -> CaseView:
        """Close an answered case (its objector or its provider)."""
        case = await load_case(self.conn, case_id, now)
        if who.unit is None or who.unit not in (case.provider, case.objector):
            msg = f"only the objector or the provider may close case {case_id}"
            raise NotAllowed(msg)
        if case.state is not State.ANSWERED:
            msg = f"case {case_id} is {case.state}: only an answered case is closed"
            raise InvalidTransition(msg)
        async with self.conn.transaction():
            await append_event(
                self.conn, self.signer, case_id, State.CLOSED, actor=who.label, at=now,
                reason=reason,
            )  # fmt: skip
        return await load_case(self.conn, case_id, now)
