"""Apply the catalog's, registry's and profiles' own SQL (processors/storage/migrations/01xx) idempotently.

The storage migration runner applies the same files in its numbered sequence; this module exists so
the catalog and registry CLIs work against a database the runner has not visited yet, and so tests
can put the tables in a private schema. Like every migration file, ours use unqualified names and
run with ``search_path`` set to the target schema.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["MIGRATIONS_DIR", "OWN_MIGRATIONS", "ensure_schema", "render"]

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "storage" / "migrations"
OWN_MIGRATIONS: tuple[str, ...] = (
    "0100_catalog.sql",
    "0110_devices.sql",
    "0111_device_family_open.sql",
    "0130_profiles.sql",
)

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _checked_schema(schema: str) -> str:
    if not _SCHEMA.match(schema):
        msg = f"invalid schema name {schema!r}"
        raise ValueError(msg)
    return schema


def render(name: str) -> str:
    """SQL text of one of our migration files."""
    return (MIGRATIONS_DIR / name).read_text(encoding="utf-8")


def _prologue(schema: str) -> tuple[sql.Composed, ...]:
    ident = sql.Identifier(_checked_schema(schema))
    return (
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident),
        # SET LOCAL: the search path reverts when the transaction ends.
        sql.SQL("SET LOCAL search_path TO {}").format(ident),
    )


# Fast path: when every object exists, skip the DDL (it would take table locks on each start).
_PRESENT = """
SELECT (SELECT count(*) FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s
           AND t.tgname IN ('catalog_entry_append_only', 'device_notify',
                            'device_profile_append_only')) = 3
   AND to_regclass(quote_ident(%(s)s) || '.quarantine_replay') IS NOT NULL
   AND to_regclass(quote_ident(%(s)s) || '.device_health_day') IS NOT NULL
   AND EXISTS (SELECT 1 FROM pg_constraint k
                 JOIN pg_namespace n ON n.oid = k.connamespace
                WHERE n.nspname = %(s)s AND k.conname = 'device_family_name')
"""


def _lock_key(schema: str) -> int:
    # Concurrent CREATE OR REPLACE FUNCTION / trigger swaps race ("tuple concurrently updated"),
    # so every applier serialises on one advisory lock per schema.
    return zlib.crc32(f"sensegate-ddl:{schema}".encode()) & 0x7FFFFFFF


async def ensure_schema(conn: psycopg.AsyncConnection[Any], schema: str = "sensegate") -> None:
    """Create the catalog and registry tables in ``schema`` if missing (one transaction)."""
    async with conn.transaction():
        cur = await conn.execute(_PRESENT, {"s": schema})
        row = await cur.fetchone()
        if row is not None and row[0]:
            return
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(schema),))
        for stmt in _prologue(schema):
            await conn.execute(stmt)
        for name in OWN_MIGRATIONS:
            await conn.execute(sql.SQL(render(name)))
