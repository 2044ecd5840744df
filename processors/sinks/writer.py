"""SQL of one sink batch: staging COPY, idempotent inserts, provenance rows and offset compare-and-set.

Rows travel in COPY's binary format with the column types read once per connection
(``column_types``): no text rendering of doubles and timestamps on either side.

All functions run inside the caller's transaction on a connection whose ``search_path`` is the
sink's schema. COPY cannot resolve conflicts, so rows go to a temporary staging table first and
reach the dataset table through ``INSERT … SELECT … ON CONFLICT DO NOTHING``; ``RETURNING`` tells
which rows are new, and only those are logged.

Duplicates are rare (replayed offsets are skipped before any SQL), so each insert first COPYs
straight into the target table under a savepoint: one pass instead of staging, re-reading and
conflict-checking every row. A unique violation (some row already stored, or a key twice in the
batch) rolls the savepoint back and the batch takes the staging path, so the outcome is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from processors.catalog import DatasetEntry
from processors.exceptions import StorageError
from processors.provenance.rowdocs import PROVENANCE_COLUMNS, data_columns
from processors.sinks.base import TopicPartition
from processors.sinks.sqlstate import is_duplicate_key
from processors.storage.ddl import ident

__all__ = [
    "OffsetConflictError",
    "column_types",
    "create_staging",
    "insert_one",
    "insert_provenance",
    "insert_rows",
    "lock_offsets",
    "read_offsets",
    "store_offsets",
]

Conn = AsyncConnection[Any]


class OffsetConflictError(StorageError):
    """Another consumer created the offset row concurrently; retrying the batch resolves it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=True)


def _db(row: Sequence[Any]) -> tuple[Any, ...]:
    """Row values as the database wants them (mappings become jsonb)."""
    return tuple(Jsonb(v) if isinstance(v, dict) else v for v in row)


def _stage(table: str) -> str:
    return ident(f"stage_{table}")


async def create_staging(conn: Conn, entries: Iterable[DatasetEntry]) -> None:
    """Create the session's temporary staging tables (outside any transaction)."""
    tables = ["provenance", *(e.storage_table for e in entries)]
    for table in tables:
        await conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_stage(table)} "
            f"(LIKE {ident(table)}) ON COMMIT DELETE ROWS"
        )


async def column_types(conn: Conn, table: str, columns: Sequence[str]) -> tuple[int, ...]:
    """Type oids of ``columns`` of ``table`` (resolved on the connection's search path)."""
    cur = await conn.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped",
        (ident(table),),
    )
    oids = {str(name): int(oid) for name, oid in await cur.fetchall()}
    missing = [c for c in columns if c not in oids]
    if missing:
        msg = f"table {table} has no column(s) {', '.join(missing)}"
        raise StorageError(msg, retriable=False)
    return tuple(oids[c] for c in columns)


async def _copy(
    conn: Conn,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    types: Sequence[int] | None,
) -> None:
    cols = ", ".join(ident(c) for c in columns)
    if types is None:  # text COPY (the former path, kept for the equivalence test)
        async with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(_db(row))
        return
    # Binary COPY with the table's types: every value goes through the dumper of its column's oid
    # (a dict becomes jsonb, a list text[]), so rows are written as they are.
    statement = f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)"
    async with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            await write(row)


async def _copy_direct(
    conn: Conn,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    types: Sequence[int] | None,
) -> bool:
    """COPY ``rows`` into ``table`` itself under a savepoint; False when a key already exists."""
    try:
        async with conn.transaction():
            await _copy(conn, table, columns, rows, types)
    except psycopg.Error as exc:
        if is_duplicate_key(exc.sqlstate):
            return False
        raise
    return True


async def insert_provenance(
    conn: Conn, rows: Sequence[Sequence[Any]], types: Sequence[int] | None
) -> set[str]:
    """Insert provenance rows idempotently (binary COPY with ``types``, else text); new ids."""
    if not rows:
        return set()
    if await _copy_direct(conn, "provenance", PROVENANCE_COLUMNS, rows, types):
        return {str(r[0]) for r in rows}
    stage = _stage("provenance")
    await _copy(conn, stage, PROVENANCE_COLUMNS, rows, types)
    cols = ", ".join(PROVENANCE_COLUMNS)
    cur = await conn.execute(
        f"INSERT INTO provenance ({cols}) SELECT {cols} FROM {stage} "  # noqa: S608
        "ON CONFLICT (provenance_id) DO NOTHING RETURNING provenance_id"
    )
    return {str(r[0]) for r in await cur.fetchall()}


async def insert_rows(
    conn: Conn,
    entry: DatasetEntry,
    rows: Sequence[Sequence[Any]],
    types: Sequence[int] | None,
) -> set[tuple[str, datetime]]:
    """Insert data rows of one dataset idempotently; returns (record_id, observed_at) of new rows."""
    if not rows:
        return set()
    columns = data_columns(entry)
    if await _copy_direct(conn, ident(entry.storage_table), columns, rows, types):
        rid, obs = columns.index("record_id"), columns.index("observed_at")
        return {(str(r[rid]), r[obs]) for r in rows}
    stage = _stage(entry.storage_table)
    await _copy(conn, stage, columns, rows, types)
    cols = ", ".join(ident(c) for c in columns)
    cur = await conn.execute(
        f"INSERT INTO {ident(entry.storage_table)} ({cols}) SELECT {cols} FROM {stage} "  # noqa: S608
        "ON CONFLICT (record_id, observed_at) DO NOTHING RETURNING record_id, observed_at"
    )
    return {(str(r[0]), r[1]) for r in await cur.fetchall()}


async def insert_one(
    conn: Conn, table: str, columns: Sequence[str], row: Sequence[Any], conflict: str
) -> bool:
    """Insert one row (careful mode, inside a savepoint); True when it was new."""
    cols = ", ".join(ident(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    cur = await conn.execute(
        f"INSERT INTO {ident(table)} ({cols}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING 1",
        _db(row),
    )
    return await cur.fetchone() is not None


async def read_offsets(
    conn: Conn, group_id: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``tps`` (absent partitions are left out)."""
    tps = list(tps)
    if not tps:
        return {}
    cur = await conn.execute(
        "SELECT topic, partition, next_offset FROM ingest_offset WHERE group_id = %s "
        "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
        (group_id, [t for t, _ in tps], [p for _, p in tps]),
    )
    return {(str(t), int(p)): int(o) for t, p, o in await cur.fetchall()}


async def lock_offsets(
    conn: Conn, group_id: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Like ``read_offsets`` but row-locked until the transaction ends (in a stable order)."""
    tps = sorted(tps)
    if not tps:
        return {}
    cur = await conn.execute(
        "SELECT topic, partition, next_offset FROM ingest_offset WHERE group_id = %s "
        "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
        "ORDER BY topic, partition FOR UPDATE",
        (group_id, [t for t, _ in tps], [p for _, p in tps]),
    )
    return {(str(t), int(p)): int(o) for t, p, o in await cur.fetchall()}


async def store_offsets(
    conn: Conn, group_id: str, updates: Mapping[TopicPartition, tuple[int | None, int]]
) -> None:
    """Compare-and-set each partition's next offset from ``expected`` to ``new``."""
    for (topic, partition), (expected, new) in sorted(updates.items()):
        if expected is None:
            cur = await conn.execute(
                "INSERT INTO ingest_offset (group_id, topic, partition, next_offset) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (group_id, topic, partition, new),
            )
        else:
            cur = await conn.execute(
                "UPDATE ingest_offset SET next_offset = %s, updated_at = now() "
                "WHERE group_id = %s AND topic = %s AND partition = %s AND next_offset = %s",
                (new, group_id, topic, partition, expected),
            )
        if cur.rowcount != 1:
            msg = f"offset of {topic}[{partition}] moved concurrently (expected {expected})"
            raise OffsetConflictError(msg)
