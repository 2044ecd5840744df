"""The one SQLSTATE classification table: what is retried, what is dead-lettered, what stops."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from processors.sinks.sqlstate import classify, is_data_error, is_transient, to_storage_error

CASES = [
    ("08000", True, False),  # connection exception
    ("08006", True, False),  # connection failure
    ("08003", True, False),  # connection does not exist
    ("40001", True, False),  # serialization failure
    ("40P01", True, False),  # deadlock detected
    ("40002", False, False),  # integrity constraint violation at commit: not listed, permanent
    ("53100", True, False),  # disk full
    ("53200", True, False),  # out of memory
    ("53300", True, False),  # too many connections
    ("57P01", True, False),  # admin shutdown
    ("57P02", True, False),  # crash shutdown
    ("57P03", True, False),  # cannot connect now
    ("57014", False, False),  # query canceled: permanent
    ("57P04", False, False),  # database dropped: permanent
    ("22001", False, True),  # string data right truncation
    ("22003", False, True),  # numeric value out of range
    ("22P02", False, True),  # invalid text representation
    ("23505", False, True),  # unique violation
    ("23514", False, True),  # check violation (also: no partition for the row)
    ("42P01", False, False),  # undefined table: a bug, not the data
    ("XX000", False, False),  # internal error
    ("", False, False),
]


@pytest.mark.parametrize(("state", "transient", "data"), CASES)
def test_classification_table(state: str, transient: bool, data: bool) -> None:
    assert is_transient(state) is transient
    assert is_data_error(state) is data


def test_pool_timeout_and_lost_connections_are_retriable() -> None:
    assert classify(PoolTimeout("no connection")) == (True, None)
    assert classify(psycopg.OperationalError("server closed the connection")) == (True, None)
    assert classify(ConnectionResetError()) == (True, None)
    assert classify(ValueError("bug")) == (False, None)


def test_storage_error_carries_the_policy() -> None:
    err = to_storage_error(psycopg.errors.SerializationFailure("conflict"), "flush")
    assert err.retriable
    assert "flush" in str(err)
    permanent = to_storage_error(psycopg.errors.CheckViolation("bad row"), "flush")
    assert not permanent.retriable
    assert permanent.sqlstate == "23514"
