"""Plain-PostgreSQL partition upkeep: monthly range partitions created ahead, retention by dropping.

TimescaleDB manages its chunks itself; these functions only act on tables that are declaratively
partitioned (``relkind = 'p'``). Partition ``<table>_pYYYYMM`` holds ``[month start, next month)``
in UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

__all__ = ["drop_expired_partitions", "ensure_partitions", "is_partitioned", "month_start"]

logger = logging.getLogger(__name__)


def month_start(ts: datetime) -> datetime:
    """First instant (UTC) of the month holding ``ts``."""
    u = ts.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


async def is_partitioned(conn: AsyncConnection[Any], schema: str, table: str) -> bool:
    """True when ``schema.table`` is a declaratively partitioned table."""
    cur = await conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    )
    row = await cur.fetchone()
    return bool(row and row[0] == "p")


async def ensure_partitions(
    conn: AsyncConnection[Any], schema: str, table: str, months: Iterable[datetime]
) -> list[str]:
    """Create the monthly partitions for ``months`` (autocommit connection); returns new names."""
    created = []
    for start in sorted(set(months)):
        name = f"{table}_p{start:%Y%m}"
        existed = await _exists(conn, schema, name)
        # Through the owner's SECURITY DEFINER function: the sink role owns no table.
        stmt = sql.SQL("SELECT {}.ensure_month_partition(%s::regclass, %s)").format(
            sql.Identifier(schema)
        )
        try:
            await conn.execute(stmt, (_qualified(schema, table), start))
        except psycopg.errors.DuplicateTable:
            continue  # another sink created it between our check and our statement
        if not existed:
            created.append(name)
    return created


def _qualified(schema: str, table: str) -> str:
    return sql.Identifier(schema, table).as_string(None)


async def _exists(conn: AsyncConnection[Any], schema: str, name: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    )
    return await cur.fetchone() is not None


async def drop_expired_partitions(
    conn: AsyncConnection[Any], schema: str, table: str, retention_days: int, now: datetime
) -> list[str]:
    """Drop partitions whose whole range is older than the retention; returns dropped names.

    The owner's SECURITY DEFINER function does the dropping; it never uses a retention shorter
    than the one the migrations registered for the table, nor a ``now`` in the future.
    """
    cur = await conn.execute(
        sql.SQL("SELECT {}.drop_expired_partitions(%s::regclass, %s, %s)").format(
            sql.Identifier(schema)
        ),
        (_qualified(schema, table), retention_days, now),
    )
    dropped = sorted(name for (name,) in await cur.fetchall())
    for name in dropped:
        logger.info("retention: dropped partition %s.%s", schema, name)
    return dropped
