"""Timescale DDL path against PGlite + TimescaleDB (WebAssembly) served over the wire protocol.

Needs node and the npm packages in .state/timescale (``scripts/timescale_check.sh`` installs them);
skips otherwise. PGlite has no COPY, so rows are written with the sink's single-row insert.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from processors.provenance.rowdocs import PROVENANCE_COLUMNS, data_columns
from processors.sinks.base import SinkInput
from processors.sinks.rows import data_row, prepare, provenance_row
from processors.sinks.timescale import connect
from processors.sinks.writer import insert_one
from processors.storage.migrate import migrate
from processors.storage.partitions import ensure_partitions, is_partitioned, month_start
from tests.fixtures.ports import free_port
from tests.fixtures.records import BASE_TIME, soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.storage.queries import DOCUMENTED_QUERIES

ROOT = Path(__file__).resolve().parents[3]
DIR = ROOT / ".state" / "timescale"


@pytest.fixture
def timescale_dsn(tmp_path: Path) -> Iterator[str]:
    """DSN of a fresh PGlite + TimescaleDB server (password required by pglite-socket)."""
    node = shutil.which("node")
    if node is None or not (DIR / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        pytest.skip(
            "node or the PGlite TimescaleDB packages are missing (scripts/timescale_check.sh)"
        )
    shutil.copy(ROOT / "scripts" / "timescale_server.mjs", DIR / "timescale_server.mjs")
    port = free_port()
    log = (tmp_path / "pglite.log").open("wb")
    proc = subprocess.Popen([node, "timescale_server.mjs", str(port)], cwd=DIR, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    dsn = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    try:
        for _ in range(600):
            try:
                with psycopg.connect(dsn, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                assert proc.poll() is None, (tmp_path / "pglite.log").read_text()
                time.sleep(0.1)
        yield dsn
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


async def _insert(dsn: str, schema: str, catalog: Catalog) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    conn = await connect(dsn, schema, "test-insert")
    async with conn:
        if await is_partitioned(conn, schema, "agri_soil"):
            await ensure_partitions(conn, schema, "agri_soil", [month_start(BASE_TIME)])
    conn = await connect(dsn, schema, "test-insert")
    async with conn, conn.transaction():
        for i, rec in enumerate(soil_records(40, devices=4)):
            row = prepare(SinkInput("t.data.agri_soil", 0, i, rec.to_kafka_value()), catalog, "t.")
            await insert_one(conn, "provenance", PROVENANCE_COLUMNS, provenance_row(row, now),
                             "provenance_id")  # fmt: skip
            await insert_one(conn, "agri_soil", data_columns(row.entry), data_row(row, now),
                             "record_id, observed_at")  # fmt: skip


def _answers(dsn: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        return {name: conn.execute(q.encode()).fetchall() for name, q in DOCUMENTED_QUERIES.items()}


def test_timescale_ddl_and_documented_queries(
    timescale_dsn: str, stack: StackAddresses, pg_schema: str, catalog: Catalog
) -> None:
    report = migrate(timescale_dsn, "sensegate", catalog, mode="timescale")
    assert report.timescale
    again = migrate(timescale_dsn, "sensegate", catalog, mode="timescale")
    assert again.applied == []
    with psycopg.connect(timescale_dsn) as conn:
        hypertables = {r[0] for r in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'sensegate'"
        )}  # fmt: skip
        caggs = {r[0] for r in conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        )}  # fmt: skip
        jobs = {(r[0], r[1]) for r in conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs "
            "WHERE hypertable_name IS NOT NULL"
        )}  # fmt: skip
    tables = {e.storage_table for e in catalog.entries.values()}
    assert hypertables == tables
    assert caggs == {
        f"{e.storage_table}_hourly" for e in catalog.entries.values() if e.hourly_rollup
    }
    for table in tables:
        assert ("policy_retention", table) in jobs
        assert ("policy_compression", table) in jobs

    asyncio.run(_insert(timescale_dsn, "sensegate", catalog))
    asyncio.run(_insert(stack.pg_dsn, pg_schema, catalog))
    on_timescale = _answers(timescale_dsn, "sensegate")
    on_postgres = _answers(stack.pg_dsn, pg_schema)
    for name in DOCUMENTED_QUERIES:
        assert on_timescale[name], name
        assert on_timescale[name] == on_postgres[name], name

    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        compressed = conn.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('sensegate.agri_soil') AS c"
        ).fetchone()
    assert compressed is not None
    assert compressed[0] >= 1
    assert _answers(timescale_dsn, "sensegate") == on_postgres
