"""Migrations and partition upkeep on the plain PostgreSQL path (the stack's database)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from processors.exceptions import ConfigurationError
from processors.sinks.timescale import connect
from processors.storage.migrate import MIGRATIONS_DIR, migrate
from processors.storage.partitions import drop_expired_partitions, ensure_partitions
from tests.fixtures.services import StackAddresses


@pytest.fixture
def bare_schema(stack: StackAddresses, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A schema name nobody uses yet, dropped afterwards."""
    schema = unique_name("m")[:60]
    yield schema
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _tables(dsn: str, schema: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v')",
            (schema,),
        ).fetchall()
    return {name: kind for name, kind in rows}


def test_migrations_create_partitioned_tables_once(
    stack: StackAddresses, bare_schema: str, catalog: Catalog
) -> None:
    first = migrate(stack.pg_dsn, bare_schema, catalog, mode="auto")
    assert not first.timescale  # the stack's PostgreSQL has no TimescaleDB
    assert "0001_core.sql" in first.applied
    assert {f"dataset:{code}@1" for code in catalog.entries} <= set(first.applied)
    second = migrate(stack.pg_dsn, bare_schema, catalog)
    assert second.applied == []
    tables = _tables(stack.pg_dsn, bare_schema)
    for entry in catalog.entries.values():
        assert tables[entry.storage_table] == "p"
        assert tables[f"{entry.storage_table}_current"] == "v"
        assert (f"{entry.storage_table}_hourly" in tables) == entry.hourly_rollup
    for core in ("schema_migration", "ingest_offset", "provenance", "tlog_leaf", "correction"):
        assert core in tables


def test_changed_migration_is_refused(
    stack: StackAddresses, bare_schema: str, catalog: Catalog, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    migrate(stack.pg_dsn, bare_schema, None, directory=directory)
    core = directory / "0001_core.sql"
    core.write_text(core.read_text() + "\n-- edited after release\n")
    with pytest.raises(ConfigurationError, match="changed after it was applied"):
        migrate(stack.pg_dsn, bare_schema, None, directory=directory)


def test_declared_rewrite_is_accepted_without_rerun(
    stack: StackAddresses, bare_schema: str, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    migrate(stack.pg_dsn, bare_schema, None, directory=directory)
    core = directory / "0001_core.sql"
    applied = hashlib.sha256(core.read_bytes()).hexdigest()
    # the rewrite would fail if it ran again: it is only recorded
    core.write_text(f"-- replaces-checksum: {applied}\nSELECT 1/0;\n")
    assert migrate(stack.pg_dsn, bare_schema, None, directory=directory).applied == []
    with psycopg.connect(stack.pg_dsn) as conn:
        row = conn.execute(
            sql.SQL("SELECT checksum FROM {} WHERE version = '0001'").format(
                sql.Identifier(bare_schema, "schema_migration")
            )
        ).fetchone()
    assert row == (hashlib.sha256(core.read_bytes()).hexdigest(),)
    core.write_text("-- replaces-checksum: " + "0" * 64 + "\n")
    with pytest.raises(ConfigurationError, match="changed after it was applied"):
        migrate(stack.pg_dsn, bare_schema, None, directory=directory)


# objection_event references objection_case, so PostgreSQL truncates the case table only with it
@pytest.mark.parametrize(
    "tables", [("correction",), ("objection_event",), ("objection_case", "objection_event")]
)
def test_append_only_tables_refuse_truncate(
    stack: StackAddresses, pg_schema: str, tables: tuple[str, ...]
) -> None:
    names = sql.SQL(", ").join(sql.Identifier(pg_schema, t) for t in tables)
    with (
        psycopg.connect(stack.pg_dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(sql.SQL("TRUNCATE {}").format(names))


@pytest.mark.parametrize(
    "statement",
    ["UPDATE {} SET reason = 'edited'", "DELETE FROM {}", "TRUNCATE {}"],
)
def test_append_only_tables_refuse_edits(
    stack: StackAddresses, pg_schema: str, statement: str
) -> None:
    table = sql.Identifier(pg_schema, "correction")
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} VALUES ('c1', 'agri_soil', 'r1', now(), 'erase', NULL, 'x', 'y', "
                "NULL, now(), '{{}}', 'sig', 'key')"
            ).format(table)
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(sql.SQL(statement).format(table))


async def test_partitions_ahead_and_retention(stack: StackAddresses, pg_schema: str) -> None:
    months = [datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]
    conn = await connect(stack.pg_dsn, pg_schema, "test-partitions")
    async with conn:
        await ensure_partitions(conn, pg_schema, "v2x_participant", months)
        await ensure_partitions(conn, pg_schema, "v2x_participant", months)  # idempotent
        dropped = await drop_expired_partitions(
            conn, pg_schema, "v2x_participant", 90, datetime(2026, 11, 29, tzinfo=UTC)
        )
    assert dropped == ["v2x_participant_p202001"]
    tables: dict[str, Any] = _tables(stack.pg_dsn, pg_schema)
    assert "v2x_participant_p202611" in tables
    assert "v2x_participant_p202001" not in tables
