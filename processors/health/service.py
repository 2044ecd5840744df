"""Device health inside the normalize service: Prometheus metrics and the periodic database flush.

Metrics keep their cardinality bounded: counters and gauges are labelled by family, provider,
dataset and reason only (all closed sets from the catalog and the reason list); per-device series
exist only for the ``top_n`` devices silent longest, and the whole set is cleared and rewritten on
every refresh so a device that recovers leaves no stale series.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

import psycopg
from prometheus_client import Counter, Gauge

from contracts.dead_letter import DeadLetter
from processors.health.store import flush_deltas
from processors.health.tracker import HealthTracker
from processors.normalize.catalog_view import DeviceLike
from processors.normalize.contract import BatchResult

__all__ = ["HealthService"]

logger = logging.getLogger(__name__)

_GAPS = Counter(
    "sensegate_device_counter_gaps_total",
    "frames missing by the devices' own counters (fCnt, msgCnt, seq)",
    ["family", "provider"],
)
_DEAD = Counter(
    "sensegate_device_dead_letters_total",
    "dead letters of registered devices",
    ["provider", "reason"],
)
_REGISTERED = Gauge("sensegate_devices_registered", "registered devices", ["dataset", "provider"])
_SILENT = Gauge(
    "sensegate_devices_silent",
    "registered devices not seen for longer than their silence limit",
    ["dataset", "provider"],
)
_TOP_SILENT = Gauge(
    "sensegate_device_silent_seconds",
    "seconds since last seen, for the devices silent longest (top N only)",
    ["family", "device"],
)


class HealthService:
    """Feeds the tracker from delivered batches, refreshes gauges and flushes to PostgreSQL."""

    def __init__(
        self,
        tracker: HealthTracker,
        devices: Callable[[], Iterable[DeviceLike]],
        interval_of: Callable[[DeviceLike], float | None],
        *,
        dsn: str | None,
        schema: str = "sensegate",
        flush_s: float = 15.0,
        top_n: int = 10,
    ) -> None:
        self.tracker = tracker
        self._devices = devices
        self._interval_of = interval_of
        self._dsn = dsn
        self._schema = schema
        self._flush_s = flush_s
        self._top_n = top_n
        self._started_ns = time.time_ns()
        self._task: asyncio.Task[None] | None = None

    def observe(self, result: BatchResult, letters: Iterable[DeadLetter] = ()) -> None:
        """Count one delivered batch (called by the runner after its offsets are committed)."""
        extra = list(letters)
        gaps = self.tracker.observe(result, extra)
        providers = {(d.family, d.device_id): d.provider for d in self._devices()}
        for key, added in gaps.items():
            _GAPS.labels(key[0], providers.get(key, "unknown")).inc(added)
        for letter in (*result.dead_letters, *extra):
            env = letter.envelope
            provider = providers.get((str(env.get("family")), str(env.get("device_id"))))
            if provider is not None:
                _DEAD.labels(provider, letter.reason.value).inc()

    def refresh(self, now_ns: int | None = None) -> list[tuple[float, str, str]]:
        """Recompute the gauges; returns (silent seconds, family, device) of silent devices."""
        now_ns = now_ns or time.time_ns()
        registered: dict[tuple[str, str], int] = {}
        silent_by: dict[tuple[str, str], int] = {}
        silent: list[tuple[float, str, str]] = []
        for d in self._devices():
            last = self.tracker.last_seen_ns.get((d.family, d.device_id), self._started_ns)
            age = (now_ns - last) / 1e9
            interval = self._interval_of(d)
            is_silent = interval is not None and age > 3 * interval
            for code in d.datasets:
                registered[(code, d.provider)] = registered.get((code, d.provider), 0) + 1
                silent_by[(code, d.provider)] = silent_by.get((code, d.provider), 0) + is_silent
            if is_silent:
                silent.append((age, d.family, d.device_id))
        _REGISTERED.clear()
        _SILENT.clear()
        for (code, provider), n in registered.items():
            _REGISTERED.labels(code, provider).set(n)
            _SILENT.labels(code, provider).set(silent_by[(code, provider)])
        _TOP_SILENT.clear()
        silent.sort(reverse=True)
        for age, family, device in silent[: self._top_n]:
            _TOP_SILENT.labels(family, device).set(age)
        return silent

    async def flush(self) -> int:
        """Write the pending window deltas; on failure they are kept for the next flush."""
        deltas = self.tracker.drain()
        if not deltas or self._dsn is None:
            return 0
        try:
            async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                return await flush_deltas(conn, deltas, self._schema)
        except (psycopg.Error, OSError) as exc:
            self.tracker.restore(deltas)
            logger.warning("device health flush failed (%s); %d windows kept", exc, len(deltas))
            return 0

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            self.refresh()
            await self.flush()

    async def __aenter__(self) -> HealthService:
        self._task = asyncio.create_task(self._run(), name="device-health")
        return self

    async def __aexit__(self, *exc: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
