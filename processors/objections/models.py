"""Objection cases (Art. 30): states, allowed transitions and the request/response models.

The same pydantic models validate CLI input, HTTP bodies and answers, and generate the OpenAPI
description (``processors.objections.openapi``), so the three can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.record import RecordValue

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "AnswerRequest",
    "CaseEvent",
    "CaseView",
    "Decision",
    "DecisionRequest",
    "State",
    "SubmitRequest",
    "SubmitResponse",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
UnitCode = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class State(StrEnum):
    """Where a case stands; every change is a signed event."""

    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    CORRECTED = "CORRECTED"
    UPHELD = "UPHELD"
    ANSWERED = "ANSWERED"
    CLOSED = "CLOSED"


class Decision(StrEnum):
    """What the provider decides; ``correct`` and ``withdraw`` change the record downstream."""

    ACCEPT = "accept"  # the objection is admissible: verification starts
    REJECT = "reject"  # inadmissible (wrong unit, no record, no grounds)
    CORRECT = "correct"  # verified wrong: new values supersede the record
    WITHDRAW = "withdraw"  # verified wrong beyond correction: the record is withdrawn
    UPHOLD = "uphold"  # verified right: the record stands


# decision -> (states it may follow, state it leads to)
TRANSITIONS: dict[Decision, tuple[frozenset[State], State]] = {
    Decision.ACCEPT: (frozenset({State.RECEIVED}), State.ACCEPTED),
    Decision.REJECT: (frozenset({State.RECEIVED}), State.REJECTED),
    Decision.CORRECT: (frozenset({State.ACCEPTED}), State.CORRECTED),
    Decision.WITHDRAW: (frozenset({State.ACCEPTED}), State.CORRECTED),
    Decision.UPHOLD: (frozenset({State.ACCEPTED}), State.UPHELD),
}
# States from which the provider may answer, and after which the case may be closed.
ANSWERABLE: frozenset[State] = frozenset({State.REJECTED, State.CORRECTED, State.UPHELD})
TERMINAL: frozenset[State] = frozenset({State.ANSWERED, State.CLOSED})


class SubmitRequest(BaseModel):
    """A new objection: the record (by id, or dataset + natural key), the claim and its evidence."""

    model_config = _FROZEN

    dataset: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
    record_id: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    natural_key: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    claim: Text
    evidence: Annotated[str, Field(max_length=8000)] = ""
    proposed_values: dict[str, RecordValue] | None = None
    contact: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="how a member of the public wants to be answered (optional)"
    )

    @model_validator(mode="after")
    def _one_selector(self) -> SubmitRequest:
        if (self.record_id is None) == (self.natural_key is None):
            msg = "name the record by exactly one of record_id or natural_key"
            raise ValueError(msg)
        return self


class SubmitResponse(BaseModel):
    """What the objector gets back: the case id to follow and the provider's deadline."""

    model_config = _FROZEN

    case_id: str
    state: State
    provider: str
    due_at: datetime


class DecisionRequest(BaseModel):
    """The provider's decision on a case, with its reasons (and new values for ``correct``)."""

    model_config = _FROZEN

    decision: Decision
    reason: Text
    values: dict[str, RecordValue] | None = None
    legal_basis: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _values_when_correcting(self) -> DecisionRequest:
        if self.decision is Decision.CORRECT and not self.values:
            msg = "a correction needs the new values"
            raise ValueError(msg)
        if self.decision is not Decision.CORRECT and self.values:
            msg = "values are only given with decision 'correct'"
            raise ValueError(msg)
        return self


class AnswerRequest(BaseModel):
    """The provider's answer to the objector (after a decision)."""

    model_config = _FROZEN

    text: Text


class CaseEvent(BaseModel):
    """One signed transition: who, when, why; ``prev`` chains it to the case's previous event."""

    model_config = _FROZEN

    seq: int
    state: State
    actor: str
    at: datetime
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)
    prev: str
    signature: str
    key_id: str


class CaseView(BaseModel):
    """A case as shown to the objector, the provider or an operator."""

    model_config = _FROZEN

    case_id: str
    dataset: str
    record_id: str | None
    provider: str
    objector: str
    objector_kind: Literal["unit", "public"]
    claim: str
    evidence: str
    proposed_values: dict[str, RecordValue] | None
    state: State
    received_at: datetime
    due_at: datetime
    overdue: bool
    correction_id: str | None = None
    events: tuple[CaseEvent, ...] = ()
