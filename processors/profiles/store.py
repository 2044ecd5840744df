"""Register device profiles in PostgreSQL (``<schema>.device_profile``) with versions.

Same rules as the catalog: a definition already registered under its declared version is left
alone; a changed definition gets the next version above the highest registered, so a device bound
to a version keeps exactly the mapping it was bound to. Rows are append-only (0130_profiles.sql).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from processors.catalog import Catalog
from processors.catalog.ddl import ensure_schema
from processors.catalog.store import Action, choose_version
from processors.profiles.exceptions import ProfileError, ProfileRegistrationError
from processors.profiles.loader import ProfileBook
from processors.profiles.models import Profile
from processors.profiles.validation import profile_problems

__all__ = [
    "ProfileRegistration",
    "fetch_profiles",
    "refresh_book",
    "register_profiles",
    "watch_profiles",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class ProfileRegistration:
    """Outcome for one profile: the version now in force and what registration did."""

    name: str
    declared_version: int
    version: int
    action: Action


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.device_profile").format(sql.Identifier(schema))


async def _register_one(
    conn: psycopg.AsyncConnection[Any], profile: Profile, schema: str
) -> ProfileRegistration:
    digest = profile.content_sha256()
    table = _table(schema)
    key = zlib.crc32(f"sensegate-profile:{schema}:{profile.name}".encode()) & 0x7FFFFFFF
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
    cur = await conn.execute(
        sql.SQL("SELECT version, content_sha256 FROM {} WHERE name = %s").format(table),
        (profile.name,),
    )
    known = {int(v): str(h) for v, h in await cur.fetchall()}
    # The same definition registered under another version is that version (no new row).
    same = [v for v, h in known.items() if h == digest and v != profile.version]
    if same and known.get(profile.version) != digest:
        return ProfileRegistration(profile.name, profile.version, max(same), "unchanged")
    version, action = choose_version(known, profile.version, digest)
    if action == "unchanged":
        return ProfileRegistration(profile.name, profile.version, version, action)
    stored = profile.model_copy(update={"version": version})
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (name, version, family, codec, dataset, definition, content_sha256)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(table),
        (
            profile.name,
            version,
            profile.family,
            profile.codec,
            profile.dataset,
            Jsonb(stored.definition()),
            digest,
        ),
    )
    logger.info("profile %s registered as version %d (%s)", profile.name, version, action)
    return ProfileRegistration(profile.name, profile.version, version, action)


async def register_profiles(
    conn: psycopg.AsyncConnection[Any],
    profiles: Iterable[Profile],
    catalog: Catalog,
    schema: str = "sensegate",
) -> list[ProfileRegistration]:
    """Register profiles in one transaction; all or none, and none that breaks a catalog rule.

    Raises ProfileError naming every refused field (units that cannot match, unknown items).
    """
    profiles = list(profiles)
    problems = [p for profile in profiles for p in profile_problems(profile, catalog)]
    if problems:
        msg = f"registration refused ({len(problems)} problem(s)); nothing registered"
        raise ProfileError(msg, tuple(problems))
    try:
        await ensure_schema(conn, schema)
        async with conn.transaction():
            return [await _register_one(conn, p, schema) for p in profiles]
    except psycopg.Error as exc:
        msg = f"profile registration failed: {exc}"
        raise ProfileRegistrationError(msg) from exc


def _select(schema: str) -> sql.Composed:
    return sql.SQL("SELECT definition, version FROM {} ORDER BY name, version").format(
        _table(schema)
    )


def _profile(definition: dict[str, Any], version: int) -> Profile:
    return Profile.model_validate({**definition, "version": version})


async def fetch_profiles(
    conn: psycopg.AsyncConnection[Any], schema: str = "sensegate"
) -> list[Profile]:
    """Every registered profile version (creates the tables if missing)."""
    await ensure_schema(conn, schema)
    cur = await conn.execute(_select(schema))
    return [_profile(d, int(v)) for d, v in await cur.fetchall()]


async def refresh_book(book: ProfileBook, dsn: str, schema: str = "sensegate") -> int:
    """Add every registered profile version to ``book``; returns how many the database holds."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        profiles = await fetch_profiles(conn, schema)
    book.add(profiles)
    return len(profiles)


@asynccontextmanager
async def watch_profiles(
    book: ProfileBook, dsn: str, schema: str, *, refresh_s: float
) -> AsyncIterator[asyncio.Task[None]]:
    """Keep ``book`` up to date with the registered versions while the block runs.

    A database outage keeps the versions already known and retries at the next interval; the
    yielded task is the refresh loop (for supervision).
    """

    async def refresh() -> None:
        while True:
            try:
                await refresh_book(book, dsn, schema)
            except (psycopg.Error, OSError) as exc:
                logger.warning("registered profiles not refreshed (%s); keeping %d", exc, len(book))
            await asyncio.sleep(refresh_s)

    task = asyncio.create_task(refresh(), name="profile-refresh")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
