"""DeviceRegistry: synchronous in-memory lookup, kept fresh from PostgreSQL by a background task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psycopg
from psycopg import sql

from contracts.families import FAMILIES
from contracts.settings import DbConfig
from processors.catalog.ddl import ensure_schema
from processors.registry.models import Device
from processors.registry.store import fetch_devices, load_devices_yaml

__all__ = ["DeviceRegistry"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]


class DeviceRegistry:
    """Who may send what: devices from the registry file, overridden by rows of ``<schema>.device``.

    ``lookup`` is synchronous and never does I/O; it reads an immutable snapshot that the background
    task replaces whole, so callers on the event loop always see one consistent registry. The task
    LISTENs on channel ``<schema>.device`` (a trigger notifies on every change) and also reloads every
    ``refresh_interval_s`` in case a notification is lost; a database outage keeps the last snapshot
    and reconnects with back-off. Without a ``db`` config the registry serves the file only.

    A registered id covers the sub-devices its family says it owns (``DeviceFamily.owner_id``): a
    Sparkplug node id ``<group>/<edge>`` covers its devices ``<group>/<edge>/<device>``.
    """

    def __init__(
        self,
        devices: Iterable[Device] = (),
        *,
        db: DbConfig | None = None,
        refresh_interval_s: float = 5.0,
    ) -> None:
        self._code: dict[Key, Device] = {d.key: d for d in devices}
        self._db_config = db
        self._interval = refresh_interval_s
        self._snapshot: Mapping[Key, Device] = MappingProxyType(dict(self._code))
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self._changed = asyncio.Condition()

    @classmethod
    def from_file(
        cls,
        path: Path | None = None,
        *,
        db: DbConfig | None = None,
        refresh_interval_s: float = 5.0,
    ) -> DeviceRegistry:
        """Registry seeded from ``registry/devices.yaml`` (invalid entries are logged and skipped)."""
        devices, problems = load_devices_yaml(path)
        for problem in problems:
            logger.error("registry file entry skipped: %s", problem)
        return cls(devices, db=db, refresh_interval_s=refresh_interval_s)

    # -- lookups -------------------------------------------------------------------------------

    def lookup(self, family: str, device_id: str) -> Device | None:
        """The registered device, or None; never blocks."""
        snapshot = self._snapshot
        device = snapshot.get((family, device_id))
        if device is None and (described := FAMILIES.find(family)) is not None:
            owner = described.owner_id(device_id)
            if owner is not None:
                device = snapshot.get((family, owner))
        return device

    def devices(self) -> tuple[Device, ...]:
        """Every device of the current snapshot, in key order."""
        snapshot = self._snapshot
        return tuple(snapshot[k] for k in sorted(snapshot))

    def __len__(self) -> int:
        return len(self._snapshot)

    @property
    def generation(self) -> int:
        """How many database snapshots have been loaded so far."""
        return self._generation

    @property
    def refresh_task(self) -> asyncio.Task[None] | None:
        """The background refresh task while started with a database (for the service's supervisor)."""
        return self._task

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the refresh task and wait (up to one interval) for the first database load."""
        if self._db_config is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="device-registry-refresh")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), timeout=max(self._interval, 5.0))

    async def stop(self) -> None:
        """Stop the refresh task; idempotent. The last snapshot stays usable."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> DeviceRegistry:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for_generation(self, generation: int) -> None:
        """Wait until at least ``generation`` database snapshots have been loaded."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._generation >= generation)

    # -- refresh -------------------------------------------------------------------------------

    async def _reload(self, conn: psycopg.AsyncConnection[Any], schema: str) -> None:
        rows = await fetch_devices(conn, schema, ensure=False)  # _listen ensured it
        merged = dict(self._code)
        merged.update((d.key, d) for d in rows)
        self._snapshot = MappingProxyType(merged)
        self._generation += 1
        self._loaded.set()
        async with self._changed:
            self._changed.notify_all()
        logger.debug("device registry reloaded: %d devices (%d from db)", len(merged), len(rows))

    async def _run(self) -> None:
        assert self._db_config is not None  # noqa: S101 - start() checked it
        schema = self._db_config.schema_name
        backoff = 1.0
        while True:
            try:
                await self._listen(self._db_config.dsn.get_secret_value(), schema)
            except (psycopg.Error, OSError) as exc:
                logger.warning(
                    "device registry refresh failed (%s); keeping %d devices, retrying in %.0fs",
                    exc,
                    len(self._snapshot),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _listen(self, dsn: str, schema: str) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await ensure_schema(conn, schema)
            channel = sql.Identifier(f"{schema}.device")
            await conn.execute(sql.SQL("LISTEN {}").format(channel))
            await self._reload(conn, schema)
            while True:
                # Either a change notification or the polling interval ends the wait; both reload.
                async for _ in conn.notifies(timeout=self._interval, stop_after=1):
                    pass
                await self._reload(conn, schema)
