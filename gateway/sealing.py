"""Raw payloads of personal-data families sealed per (device, epoch) before they reach Kafka.

For a family in ``seal_families`` the gateway replaces the payload of each raw record by a sealed
token (``contracts.sealed``) under a random key of the record's device and epoch (receive time
divided into ``seal_epoch_s`` slices), and names the key in the ``sg.seal`` header. A key is
registered in ``raw_epoch_key`` before its first use: one database write per device and epoch, for
a whole batch at once; the keys stay cached for their epoch. The token is bound to the device and
receive time (``raw_context``); the ``sg.sha256`` header still names the payload's hash.

Erasing a data subject destroys the keys of the epochs that carried the subject's messages, once
those epochs are closed and normalized (processors.provenance.rawshred). A database that cannot be
reached makes the send fail like a Kafka error: the message is retried with backoff, never sent in
clear and never acknowledged before Kafka has it. A registration the database does not answer
within ``timeout_s`` (the produce timeout) is abandoned like a timed-out send: its connection is
dropped at once and the next attempt opens another, so a hung connection (a stalled server process,
a dead link that sends no reset) holds the gateway up for one timeout, not until TCP gives up.
While the database is failing, the dispatch loop does not wait for it: the messages that need a
new key wait in ``gateway.key_wait`` (which tries the database with backoff) and the others,
unsealed families included, go on to Kafka.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from contracts.sealed import KEY_BYTES, new_key_id, raw_context, seal
from contracts.settings import DbConfig
from gateway.exceptions import ProduceError
from gateway.forward import Outgoing

__all__ = ["KeyUnavailable", "RawSealer", "epoch_start"]

logger = logging.getLogger(__name__)

_NS = 1_000_000_000
_CACHE_MAX = 50_000
_ABANDON_WAIT_S = 2.0  # at shutdown, how long abandoned registrations may take to wind down

# (family, device, epoch start ns) -> (key id, key)
_Pair = tuple[str, str, int]


class KeyUnavailable(ProduceError):
    """The raw key of a device and epoch could not be registered or read; retried with backoff."""


def epoch_start(received_ns: int, epoch_s: int) -> int:
    """Start (Unix ns) of the key epoch a message received at ``received_ns`` belongs to."""
    epoch_ns = epoch_s * _NS
    return received_ns - received_ns % epoch_ns


class RawSealer:
    """Seals raw records of ``families``; loop-affine, one per gateway."""

    def __init__(
        self, families: Sequence[str], epoch_s: int, db: DbConfig, timeout_s: float
    ) -> None:
        self.families = frozenset(families)
        self._epoch_s = epoch_s
        self._epoch_ns = epoch_s * _NS
        self._db = db
        self._timeout_s = timeout_s
        self._cache: dict[_Pair, tuple[str, bytes]] = {}
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        # Registrations given up on, still winding down on their own (dropped) connections.
        self._abandoned: set[asyncio.Task[list[tuple[Any, ...]]]] = set()
        self._failing = False  # the last registration found the database failing

    @property
    def failing(self) -> bool:
        """Whether the last registration found the database failing (not just a key destroyed)."""
        return self._failing

    def wants(self, record: Outgoing) -> bool:
        """Whether ``record`` is a raw record still to be sealed."""
        return record.reason is None and record.family in self.families and not record.sealed

    async def seal(self, records: Sequence[Outgoing], *, probe: bool = True) -> list[Outgoing]:
        """The records with their payloads sealed; raises KeyUnavailable (retriable).

        ``probe=False`` (the dispatch loop): while the key database is failing, raise at once
        instead of trying it (``gateway.key_wait`` does, for the messages it holds).
        """
        pairs = {self._pair(r) for r in records if self.wants(r)}
        missing = pairs - self._cache.keys()
        if missing:
            if self._failing and not probe:
                msg = "raw epoch keys not registered: the key database is failing (retrying)"
                raise KeyUnavailable(msg)
            async with self._lock:
                missing -= self._cache.keys()
                if missing:
                    await self._register(missing)
        out = []
        for r in records:
            if not self.wants(r):
                out.append(r)
                continue
            kid, key = self._cache[self._pair(r)]
            token = seal(key, kid, r.value, raw_context(r.family, r.device_id, r.received_ns))
            out.append(
                dataclasses.replace(
                    r, value=token.encode(), headers=[*r.headers, ("sg.seal", kid.encode())],
                    sealed=True,
                )
            )  # fmt: skip
        return out

    def _pair(self, record: Outgoing) -> _Pair:
        return record.family, record.device_id, epoch_start(record.received_ns, self._epoch_s)

    async def close(self) -> None:
        """Close the database connection; stop what is left of abandoned registrations."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        for attempt in self._abandoned:
            attempt.cancel()  # again: psycopg then closes the connection instead of waiting
        if self._abandoned:
            await asyncio.wait(self._abandoned, timeout=_ABANDON_WAIT_S)

    async def _register(self, pairs: set[_Pair]) -> None:
        ordered = sorted(pairs)
        # The attempt runs as its own task, so that one the database does not answer can be left
        # behind at the timeout (cancelling it waits for the server's reply to the cancel request).
        attempt = asyncio.create_task(self._attempt(ordered), name="gateway-key-registration")
        try:
            done, _ = await asyncio.wait({attempt}, timeout=self._timeout_s)
        finally:
            if not attempt.done():  # timed out, or our caller is being cancelled
                self._abandon(attempt)
        self._failing = True  # until the rows are read
        if not done:
            msg = (
                f"raw epoch keys not registered: no answer within {self._timeout_s:g} s "
                "(connection dropped)"
            )
            raise KeyUnavailable(msg)
        try:
            rows = attempt.result()
        except psycopg.Error as exc:
            msg = f"raw epoch keys not registered: {exc}"
            raise KeyUnavailable(msg) from exc
        self._failing = False
        if len(self._cache) > _CACHE_MAX:
            self._cache.clear()
        for family, device, start, kid, key in rows:
            self._cache[(family, device, int(start))] = (kid, bytes(key))
        gone = pairs - self._cache.keys()
        if gone:
            # An epoch whose key was already destroyed (a redelivery long after an erasure): the
            # message cannot be sealed under it and is not sent in clear; it waits for retries.
            msg = f"raw epoch key of {sorted(gone)[0]} is destroyed"
            raise KeyUnavailable(msg)

    def _abandon(self, attempt: asyncio.Task[list[tuple[Any, ...]]]) -> None:
        # The next registration opens a new connection at once; the attempt closes its own.
        self._conn = None
        attempt.cancel()
        self._abandoned.add(attempt)
        attempt.add_done_callback(self._forget)

    def _forget(self, attempt: asyncio.Task[list[tuple[Any, ...]]]) -> None:
        self._abandoned.discard(attempt)
        if not attempt.cancelled():
            attempt.exception()  # retrieved: its failure was already reported as a timeout

    async def _attempt(self, ordered: list[_Pair]) -> list[tuple[Any, ...]]:
        """Register the keys of ``ordered`` and read them back (again on a new connection once).

        A connection kept open since an earlier epoch may turn out closed by the server.
        """
        reused = self._conn is not None and not (self._conn.closed or self._conn.broken)
        try:
            return await self._write(ordered)
        except psycopg.OperationalError:
            if not reused:
                raise
        # Idle for up to an epoch, the connection may have been ended by a server restart or an
        # administrator; writing twice is harmless (ON CONFLICT DO NOTHING, then read back).
        return await self._write(ordered)

    async def _write(self, ordered: list[_Pair]) -> list[tuple[Any, ...]]:
        conn = await self._connection()
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO raw_epoch_key (family, device_id, epoch_start_ns, epoch_end_ns, "
                    "key_id, data_key) SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], "
                    "%s::bigint[], %s::text[], %s::bytea[]) ON CONFLICT DO NOTHING",
                    (
                        [f for f, _, _ in ordered], [d for _, d, _ in ordered],
                        [s for _, _, s in ordered], [s + self._epoch_ns for _, _, s in ordered],
                        [new_key_id() for _ in ordered], [os.urandom(KEY_BYTES) for _ in ordered],
                    ),
                )  # fmt: skip
                cur = await conn.execute(
                    "SELECT family, device_id, epoch_start_ns, key_id, data_key FROM raw_epoch_key "
                    "WHERE data_key IS NOT NULL AND (family, device_id, epoch_start_ns) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]))",
                    (
                        [f for f, _, _ in ordered],
                        [d for _, d, _ in ordered],
                        [s for _, _, s in ordered],
                    ),
                )
                return await cur.fetchall()
        except BaseException:
            # Failed, timed out or cancelled: the connection is in an unknown state.
            if self._conn is conn:
                self._conn = None
            await conn.close()
            raise

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = await psycopg.AsyncConnection.connect(
                self._db.dsn.get_secret_value(), application_name="sensegate-gateway-keys",
                connect_timeout=10,
            )  # fmt: skip
            try:
                await conn.execute(
                    sql.SQL("SET search_path TO {}, public").format(
                        sql.Identifier(self._db.schema_name)
                    )
                )
                await conn.commit()
            except BaseException:
                await conn.close()
                raise
            self._conn = conn  # only once it is set up (an abandoned attempt may stop midway)
        return self._conn
