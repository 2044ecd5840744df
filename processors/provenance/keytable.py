"""A service's connection to the subject-key table, with retries: for normalize and share.

Both ask once per batch (never per record): normalize for the keys of its batch's subjects
(creating new ones), share for the keys its batch's sealed records name. A database that stays
unreachable fails the batch with a retriable error; nothing of the batch was produced or committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from processors.exceptions import ProcessorError
from processors.provenance.personal import KeyRow, SealingKeys, ensure_sealing_keys, keys_by_id

__all__ = ["KeyTable", "KeyTableError"]

logger = logging.getLogger(__name__)

_ATTEMPTS = 3
T = TypeVar("T")


class KeyTableError(ProcessorError):
    """The key table could not be read or written; the batch is redone."""

    retriable = True


class KeyTable:
    """Lazily connected (a service whose batches hold no sealed record never connects)."""

    def __init__(self, dsn: str | Callable[[], str], schema: str, application_name: str) -> None:
        self._dsn, self._schema, self._app = dsn, schema, application_name
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def close(self) -> None:
        """Close the connection, if any."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ensure(self, wanted: set[tuple[str, str]]) -> SealingKeys:
        """Live keys (and ids) of ``(dataset, subject_ref)`` pairs, creating the missing ones."""
        return await self._run(lambda conn: ensure_sealing_keys(conn, wanted))

    async def by_id(self, kids: set[str]) -> dict[str, KeyRow]:
        """Live keys by id; destroyed or unknown ids are absent."""
        return await self._run(lambda conn: keys_by_id(conn, kids))

    async def raw_by_id(self, kids: set[str]) -> dict[str, bytes]:
        """Live raw epoch keys by id (the gateway's seals); destroyed or unknown ids are absent."""

        async def fetch(conn: psycopg.AsyncConnection[Any]) -> dict[str, bytes]:
            cur = await conn.execute(
                "SELECT key_id, data_key FROM raw_epoch_key "
                "WHERE data_key IS NOT NULL AND key_id = ANY(%s)",
                (sorted(kids),),
            )
            return {k: bytes(v) for k, v in await cur.fetchall()}

        return await self._run(fetch)

    async def _run(self, op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        last: Exception | None = None
        for attempt in range(_ATTEMPTS):
            try:
                conn = await self._connection()
                async with conn.transaction():
                    return await op(conn)
            except psycopg.Error as exc:
                last = exc
                await self.close()
                logger.warning("key table not reachable (%s); attempt %d", exc, attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))
        msg = f"subject keys not available: {last}"
        raise KeyTableError(msg) from last

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            dsn = self._dsn() if callable(self._dsn) else self._dsn
            self._conn = await psycopg.AsyncConnection.connect(
                dsn, application_name=self._app, connect_timeout=10
            )
            await self._conn.execute(
                sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self._schema))
            )
            await self._conn.commit()
        return self._conn
