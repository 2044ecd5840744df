"""Migration runner: ordered SQL files plus per-dataset DDL from the catalog, applied on start.

Everything runs in one transaction under a cluster-wide advisory lock, so concurrent starters
serialize and a failed run leaves nothing behind. ``schema_migration`` records what was applied
(file versions ``NNNN`` and ``dataset:<code>@<version>``) with a checksum; a changed file that was
already applied is refused, unless the file names the earlier checksum in a
``-- replaces-checksum: <sha256>`` line (a rewrite of the same effect, so it is not run again).
Files run with ``search_path`` set to the target schema; files written for the default schema
(``sensegate.`` qualified names) are rewritten for another schema, which is how tests get a private
schema each.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from processors.catalog import Catalog
from processors.exceptions import ConfigurationError
from processors.storage.ddl import dataset_ddl, ddl_script, ident
from processors.storage.roles import apply_grants

__all__ = ["MIGRATIONS_DIR", "MigrationReport", "StorageMode", "migrate", "timescale_available"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_SCHEMA = "sensegate"
# One lock for every schema: the catalog migrations touch shared objects.
_LOCK_KEY = 0x5E45_6A7E_0001
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_REPLACES = re.compile(r"^-- replaces-checksum: ([0-9a-f]{64})$", re.MULTILINE)

StorageMode = Literal["auto", "timescale", "plain"]


@dataclass
class MigrationReport:
    """What a run applied and which storage path it chose."""

    schema: str
    timescale: bool
    applied: list[str] = field(default_factory=list)


def _files(directory: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            msg = f"migration file {path.name!r} does not match NNNN_name.sql"
            raise ConfigurationError(msg)
        found.append((m.group(1), path))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        msg = f"duplicate migration numbers in {directory}"
        raise ConfigurationError(msg)
    return found


def _accept_rewrite(
    conn: psycopg.Connection, version: str, path: Path, *, applied: str, text: str, checksum: str
) -> None:
    """Record a rewritten file's new checksum if it declares the applied one; refuse otherwise."""
    if applied not in _REPLACES.findall(text):
        msg = f"migration {path.name} changed after it was applied (checksum {applied[:12]}…)"
        raise ConfigurationError(msg)
    conn.execute(
        "UPDATE schema_migration SET checksum = %s WHERE version = %s", (checksum, version)
    )
    logger.info("migration %s: applied text replaced by an equivalent rewrite", path.name)


def _retarget(text: str, schema: str) -> str:
    if schema == DEFAULT_SCHEMA:
        return text
    text = re.sub(r"\bsensegate\.", f'"{schema}".', text)
    return re.sub(r"(?i)(SCHEMA\s+IF\s+NOT\s+EXISTS\s+)sensegate\b", rf'\1"{schema}"', text)


def timescale_available(conn: psycopg.Connection) -> bool:
    """True when the server offers the timescaledb extension."""
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def _enable_timescale(conn: psycopg.Connection, mode: StorageMode) -> bool:
    if mode == "plain":
        return False
    if not timescale_available(conn):
        if mode == "timescale":
            msg = "storage mode 'timescale' but the server has no timescaledb extension"
            raise ConfigurationError(msg)
        return False
    try:
        with conn.transaction():  # savepoint: a server without the preload library refuses
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        if mode == "timescale":
            msg = f"cannot enable timescaledb: {exc}"
            raise ConfigurationError(msg) from exc
        logger.warning("timescaledb is available but cannot be enabled (%s); plain path", exc)
        return False
    return True


def migrate(
    dsn: str,
    schema: str = DEFAULT_SCHEMA,
    catalog: Catalog | None = None,
    *,
    mode: StorageMode = "auto",
    directory: Path = MIGRATIONS_DIR,
) -> MigrationReport:
    """Apply pending migrations and dataset DDL to ``schema``; returns what was applied."""
    ident(schema)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration (version text PRIMARY KEY, "
            "name text NOT NULL, checksum text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migration")}
        timescale = _enable_timescale(conn, mode)
        report = MigrationReport(schema=schema, timescale=timescale)
        for version, path in _files(directory):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    _accept_rewrite(
                        conn, version, path, applied=done[version], text=text, checksum=checksum
                    )
                continue
            conn.execute(_retarget(text, schema).encode())
            conn.execute(
                "INSERT INTO schema_migration (version, name, checksum) VALUES (%s, %s, %s)",
                (version, path.name, checksum),
            )
            report.applied.append(path.name)
        for entry in catalog.entries.values() if catalog else ():
            stmts = dataset_ddl(entry, schema, timescale=timescale)
            checksum = hashlib.sha256(ddl_script(stmts).encode()).hexdigest()
            key = f"dataset:{entry.code}@{entry.version}"
            if done.get(key) == checksum:
                continue
            for stmt in stmts:
                conn.execute(stmt.encode())
            conn.execute(
                "INSERT INTO schema_migration (version, name, checksum) VALUES (%s, %s, %s) "
                "ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, "
                "applied_at = now()",
                (key, entry.storage_table, checksum),
            )
            report.applied.append(key)
        for entry in catalog.entries.values() if catalog else ():
            conn.execute(
                "INSERT INTO dataset_retention (storage_table, retention_days) VALUES (%s, %s) "
                "ON CONFLICT (storage_table) DO UPDATE SET retention_days = EXCLUDED.retention_days",
                (entry.storage_table, entry.retention_days),
                # Never server-side prepared: PGlite (the TimescaleDB check) shares one session
                # between connections, and a statement prepared here would clash with the next.
                prepare=False,
            )
        # Every run re-applies the service roles' privileges: new dataset tables get theirs.
        apply_grants(conn, schema)
        conn.execute(sql.SQL("SET LOCAL search_path TO DEFAULT"))
    if report.applied:
        logger.info("schema %s: applied %s (timescale=%s)", schema, report.applied, timescale)
    return report
