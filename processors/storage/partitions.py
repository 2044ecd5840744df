"""Plain-PostgreSQL partition upkeep: monthly range partitions created ahead, retention by dropping.

TimescaleDB manages its chunks itself; these functions only act on tables that are declaratively
partitioned (``relkind = 'p'``). Partition ``<table>_pYYYYMM`` holds ``[month start, next month)``
in UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

__all__ = ["drop_expired_partitions", "ensure_partitions", "is_partitioned", "month_start"]

logger = logging.getLogger(__name__)

_SUFFIX = re.compile(r"_p(\d{4})(\d{2})$")


def month_start(ts: datetime) -> datetime:
    """First instant (UTC) of the month holding ``ts``."""
    u = ts.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


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
        stmt = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
        ).format(
            sql.Identifier(schema, name),
            sql.Identifier(schema, table),
            sql.Literal(start),
            sql.Literal(_next_month(start)),
        )
        try:
            await conn.execute(stmt)
        except psycopg.errors.DuplicateTable:
            continue  # another sink created it between our check and our statement
        created.append(name)
    return created


async def drop_expired_partitions(
    conn: AsyncConnection[Any], schema: str, table: str, retention_days: int, now: datetime
) -> list[str]:
    """Drop partitions whose whole range is older than the retention; returns dropped names."""
    cur = await conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = %s AND p.relname = %s",
        (schema, table),
    )
    horizon = now - timedelta(days=retention_days)
    dropped = []
    for (name,) in await cur.fetchall():
        m = _SUFFIX.search(name)
        if not m:
            continue
        start = datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)
        if _next_month(start) <= horizon:
            await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
            dropped.append(name)
            logger.info("retention: dropped partition %s.%s", schema, name)
    return dropped
