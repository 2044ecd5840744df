"""Pure rules of the objection workflow: deadlines, rate limit, decisions, record formats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.record import DatasetRecord
from processors.objections.http import RateLimiter
from processors.objections.models import (
    TRANSITIONS,
    Decision,
    DecisionRequest,
    State,
    SubmitRequest,
)
from processors.objections.openapi import openapi_document
from processors.objections.workdays import add_working_days
from tests.fixtures.records import soil_record


def test_deadline_counts_weekdays_only() -> None:
    friday = datetime(2026, 11, 6, 3, 0, tzinfo=UTC)  # Friday 11:00 in Asia/Shanghai
    due = add_working_days(friday, 10)
    # 10 working days after Friday 6 Nov end on Friday 20 Nov; the deadline is that day's end.
    assert due == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert add_working_days(friday, 1) == datetime(2026, 11, 9, 16, 0, tzinfo=UTC)


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")
    now[0] = 30.0  # half a minute gives one token back at 2 per minute
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_transitions_follow_the_states() -> None:
    assert TRANSITIONS[Decision.ACCEPT] == (frozenset({State.RECEIVED}), State.ACCEPTED)
    assert TRANSITIONS[Decision.WITHDRAW][1] is State.CORRECTED
    assert all(State.ANSWERED not in allowed for allowed, _ in TRANSITIONS.values())


def test_requests_are_checked() -> None:
    with pytest.raises(ValidationError):
        DecisionRequest(decision=Decision.CORRECT, reason="x")
    with pytest.raises(ValidationError):
        DecisionRequest(decision=Decision.UPHOLD, reason="x", values={"a": 1})
    with pytest.raises(ValidationError):
        SubmitRequest(dataset="agri_soil", claim="x")
    with pytest.raises(ValidationError):
        SubmitRequest(dataset="agri_soil", claim="x", record_id="0" * 64, natural_key="k")


def test_supersedes_only_on_superseding_records() -> None:
    record = soil_record(1)
    assert b"supersedes" not in record.to_kafka_value()
    newer = record.model_copy(update={"supersedes": "c" * 32})
    assert DatasetRecord.from_kafka_value(newer.to_kafka_value()).supersedes == "c" * 32


def test_openapi_is_generated_from_the_models() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    assert set(schemas["DecisionRequest"]["properties"]) == set(DecisionRequest.model_fields)
    assert doc["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/SubmitRequest"}
