"""Fixtures of the catalog integration tests: a private, dropped-afterwards database schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from tests.fixtures.services import StackAddresses


@pytest.fixture
def schema(stack: StackAddresses, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A schema name unique to the test; the schema is dropped after it."""
    name = unique_name("cat")
    yield name
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
