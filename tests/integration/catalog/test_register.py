"""Catalog registration in the real PostgreSQL: versions, idempotence, append-only history."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from processors.catalog import (
    CatalogGuard,
    RegistrationError,
    is_registered,
    load_catalog,
    parse_entry,
    register_catalog,
    registered_versions,
)
from processors.catalog.store import register_entry
from processors.cli.catalog import write_back_version
from tests.fixtures.services import StackAddresses

CATALOG = Path(__file__).resolve().parents[3] / "catalog"


async def test_register_is_idempotent_and_versions_changes(
    stack: StackAddresses, schema: str, tmp_path: Path
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    catalog = load_catalog(root)
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        first = await register_catalog(conn, catalog, schema)
        assert {r.action for r in first} == {"registered"}
        assert all([await is_registered(conn, e.code, e.version, schema) for e in catalog])
        again = await register_catalog(conn, catalog, schema)
        assert {r.action for r in again} == {"unchanged"}

        # Change one definition without touching its version: plain registration refuses it
        # (C14, tests/integration/catalog/test_change_control.py); a reviewed one gets version 2.
        text = (root / "agri_soil.yaml").read_text(encoding="utf-8")
        (root / "agri_soil.yaml").write_text(
            text.replace("retention_days: 1825", "retention_days: 1000")
        )
        changed = load_catalog(root)
        with pytest.raises(RegistrationError, match="C14: agri_soil"):
            await register_catalog(conn, changed, schema)
        async with conn.transaction():
            result = await register_entry(conn, changed.entries["agri_soil"], schema, reviewed=True)
        assert (result.action, result.version) == ("new_version", 2)
        assert await is_registered(conn, "agri_soil", 2, schema)
        assert not await is_registered(conn, "agri_soil", 3, schema)
        cur = await conn.execute(
            sql.SQL(
                "SELECT definition, content_sha256 FROM {}.catalog_entry WHERE code = %s AND version = 2"
            ).format(sql.Identifier(schema)),
            ("agri_soil",),
        )
        row = await cur.fetchone()
        assert row is not None
        assert row[0]["retention_days"] == 1000 and row[0]["version"] == 2
        assert row[1] == changed.entries["agri_soil"].content_sha256()

        # The file is brought in line, after which registering is a no-op again.
        assert write_back_version(root, "agri_soil", 2)
        synced = load_catalog(root)
        assert synced.entries["agri_soil"].version == 2
        assert {r.action for r in await register_catalog(conn, synced, schema)} == {"unchanged"}

        # A declared version above the registered ones is taken as is.
        bumped = parse_entry(
            synced.entries["agri_weather"].definition() | {"version": 5, "abstract": "x"}
        )
        async with conn.transaction():
            result = await register_entry(conn, bumped, schema, reviewed=True)
        assert (result.action, result.version) == ("registered", 5)

        guard = CatalogGuard(synced, await registered_versions(conn, schema))
        assert guard.is_allowed("agri_soil", 1) and guard.is_allowed("agri_soil", 2)
        assert not guard.is_allowed("agri_soil", 3)


async def test_history_is_append_only(stack: StackAddresses, schema: str) -> None:
    catalog = load_catalog()
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        await register_catalog(conn, catalog, schema)
        table = sql.SQL("{}.catalog_entry").format(sql.Identifier(schema))
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            await conn.execute(sql.SQL("UPDATE {} SET grade = 'core'").format(table))
        await conn.rollback()
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            await conn.execute(sql.SQL("DELETE FROM {}").format(table))
        await conn.rollback()


async def test_registration_error_is_wrapped(stack: StackAddresses) -> None:
    conn = await psycopg.AsyncConnection.connect(stack.pg_dsn)
    await conn.close()
    with pytest.raises(RegistrationError, match="registration failed"):
        await register_catalog(conn, load_catalog(), "sensegate")


async def test_async_lookup(stack: StackAddresses, schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        await register_catalog(conn, load_catalog(), schema)
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as aconn:
        assert await is_registered(aconn, "v2x_participant", 1, schema)
        assert not await is_registered(aconn, "v2x_participant", 9, schema)
        guard = CatalogGuard(load_catalog(), registered=())
        await guard.refresh(aconn, schema)
        assert guard.is_allowed("iiot_metric", 1)
