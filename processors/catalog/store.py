"""Register catalog entries in PostgreSQL (``<schema>.catalog_entry``) with versions.

Registration is idempotent: an entry whose definition (everything but its version number) is
already registered under its declared version is left alone; a changed definition gets a new
version, one above the highest registered, so stored records can always cite the exact definition
that was in force. A changed definition is registered only through C14 change control
(``processors.catalog.change_log``): plain registration refuses it. Rows are append-only (see 0100_catalog.sql). The functions are async; the CLI
runs them through ``processors.storage.connect.run_with_connection``.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from processors.catalog.ddl import ensure_schema
from processors.catalog.exceptions import RegistrationError
from processors.catalog.loader import Catalog
from processors.catalog.models import DatasetEntry

__all__ = [
    "RegistrationResult",
    "choose_version",
    "drifted_entries",
    "is_registered",
    "register_catalog",
    "register_entry",
    "registered_versions",
]

logger = logging.getLogger(__name__)

Action = Literal["unchanged", "registered", "new_version"]


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """Outcome for one entry: the version now in force and what registration did."""

    code: str
    declared_version: int
    version: int
    action: Action
    content_sha256: str


def choose_version(known: dict[int, str], declared: int, digest: str) -> tuple[int, Action]:
    """Version a definition is registered under, given the registered ``version -> digest``.

    The declared version when it is new and above all others; the next free version when the
    declared one is taken or lower; the declared one (or the highest one) unchanged when it holds
    the same digest.
    """
    if known.get(declared) == digest:
        return declared, "unchanged"
    top = max(known, default=0)
    if known.get(top) == digest:
        return top, "unchanged"  # the file lags behind a version registered by a reviewed change
    if declared in known or declared <= top:
        return top + 1, "new_version"
    return declared, "registered"


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.catalog_entry").format(sql.Identifier(schema))


async def register_entry(
    conn: psycopg.AsyncConnection[Any],
    entry: DatasetEntry,
    schema: str = "sensegate",
    *,
    reviewed: bool = False,
) -> RegistrationResult:
    """Register one entry inside the caller's transaction (see module docstring for versioning).

    C14: a changed definition of an already registered entry is refused unless ``reviewed``
    (only ``ChangeLog.apply`` passes it, after a signed review by a second principal).
    """
    digest = entry.content_sha256()
    table = _table(schema)
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s)",
        (zlib.crc32(f"sensegate-catalog:{schema}:{entry.code}".encode()) & 0x7FFFFFFF,),
    )
    cur = await conn.execute(
        sql.SQL("SELECT version, content_sha256 FROM {} WHERE code = %s").format(table),
        (entry.code,),
    )
    known = {int(v): str(h) for v, h in await cur.fetchall()}
    version, action = choose_version(known, entry.version, digest)
    if action == "unchanged":
        return RegistrationResult(entry.code, entry.version, version, action, digest)
    if known and not reviewed:
        msg = (
            f"C14: {entry.code}: the definition differs from registered version {max(known)} and "
            "has no reviewed change; 'catalog propose', a review by another principal and "
            "'catalog apply' register it"
        )
        raise RegistrationError(msg)
    stored = entry.model_copy(update={"version": version})
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (code, version, definition, content_sha256, provider, grade,"
            " share_class, open_class) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(table),
        (
            entry.code,
            version,
            Jsonb(stored.definition()),
            digest,
            entry.provider,
            entry.grade,
            entry.share_class,
            entry.open_class,
        ),
    )
    logger.info(
        "catalog entry %s registered as version %d (%s, declared %d)",
        entry.code,
        version,
        action,
        entry.version,
    )
    return RegistrationResult(entry.code, entry.version, version, action, digest)


async def register_catalog(
    conn: psycopg.AsyncConnection[Any], catalog: Catalog, schema: str = "sensegate"
) -> list[RegistrationResult]:
    """Register every entry in one transaction; creates the table first if it is missing."""
    try:
        await ensure_schema(conn, schema)
        async with conn.transaction():
            return [await register_entry(conn, entry, schema) for entry in catalog]
    except psycopg.Error as exc:
        msg = f"catalog registration failed: {exc}"
        raise RegistrationError(msg) from exc


async def registered_versions(
    conn: psycopg.AsyncConnection[Any], schema: str = "sensegate"
) -> frozenset[tuple[str, int]]:
    """Every registered (code, version); creates the table if missing."""
    await ensure_schema(conn, schema)
    cur = await conn.execute(sql.SQL("SELECT code, version FROM {}").format(_table(schema)))
    rows = await cur.fetchall()
    return frozenset((str(c), int(v)) for c, v in rows)


async def is_registered(
    conn: psycopg.AsyncConnection[Any], code: str, version: int, schema: str = "sensegate"
) -> bool:
    """Whether ``code`` is registered with exactly ``version``."""
    cur = await conn.execute(
        sql.SQL("SELECT 1 FROM {} WHERE code = %s AND version = %s").format(_table(schema)),
        (code, version),
    )
    return await cur.fetchone() is not None


async def drifted_entries(
    conn: psycopg.AsyncConnection[Any], catalog: Catalog, schema: str = "sensegate"
) -> dict[str, str]:
    """C14 in the services: loaded entries that differ from the definition registered under their version.

    Such a file is an edit no reviewed change registered; the normalizer refuses its records
    (``unknown_catalog_version``, with the returned reason) instead of running it. Versions not
    registered at all are left to the sink's version check. Read-only (no DDL at service start).
    """
    try:
        cur = await conn.execute(
            sql.SQL("SELECT code, version, content_sha256 FROM {}").format(_table(schema))
        )
    except psycopg.errors.UndefinedTable:
        return {}  # nothing registered yet: nothing can have drifted
    known = {(str(c), int(v)): str(h) for c, v, h in await cur.fetchall()}
    out: dict[str, str] = {}
    for entry in catalog:
        digest = known.get((entry.code, entry.version))
        if digest is not None and digest != entry.content_sha256():
            out[entry.code] = (
                f"C14: the loaded definition of {entry.code} differs from its registered version "
                f"{entry.version} (an unreviewed change); its records are refused until the change "
                "is proposed, reviewed and applied"
            )
    return out
