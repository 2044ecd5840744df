"""Device health rows in PostgreSQL (``<schema>.device_health``): add window deltas, read them back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from processors.health.tracker import HealthDelta

__all__ = ["HealthRow", "fetch_health", "flush_deltas"]


def _ts(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


_UPSERT = """
INSERT INTO {table} AS h (family, device_id, window_start, messages, records, dead_letters,
    counter_gaps, counter_resets, skew_ms_sum, skew_ms_max, skew_n, first_seen, last_seen)
VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (family, device_id, window_start) DO UPDATE SET
    messages = h.messages + EXCLUDED.messages,
    records = h.records + EXCLUDED.records,
    dead_letters = (
        SELECT coalesce(jsonb_object_agg(k, n), '{{}}'::jsonb) FROM (
            SELECT key AS k, sum(value::bigint) AS n FROM (
                SELECT * FROM jsonb_each_text(h.dead_letters)
                UNION ALL SELECT * FROM jsonb_each_text(EXCLUDED.dead_letters)) u
            GROUP BY key) s),
    counter_gaps = h.counter_gaps + EXCLUDED.counter_gaps,
    counter_resets = h.counter_resets + EXCLUDED.counter_resets,
    skew_ms_sum = h.skew_ms_sum + EXCLUDED.skew_ms_sum,
    skew_ms_max = CASE WHEN abs(EXCLUDED.skew_ms_max) > abs(h.skew_ms_max)
                       THEN EXCLUDED.skew_ms_max ELSE h.skew_ms_max END,
    skew_n = h.skew_n + EXCLUDED.skew_n,
    first_seen = least(h.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(h.last_seen, EXCLUDED.last_seen)
"""


def _params(d: HealthDelta) -> tuple[Any, ...]:
    return (
        d.family,
        d.device_id,
        d.window_start_s,
        d.messages,
        d.records,
        Jsonb(dict(d.dead_letters)),
        d.counter_gaps,
        d.counter_resets,
        d.skew_ms_sum,
        d.skew_ms_max,
        d.skew_n,
        _ts(d.first_seen_ns),
        _ts(d.last_seen_ns),
    )


async def flush_deltas(
    conn: psycopg.AsyncConnection[Any], deltas: Sequence[HealthDelta], schema: str = "sensegate"
) -> int:
    """Add the deltas to their window rows in one transaction; returns how many were written."""
    if not deltas:
        return 0
    stmt = sql.SQL(_UPSERT).format(table=sql.Identifier(schema, "device_health"))
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(stmt, [_params(d) for d in deltas])
    return len(deltas)


@dataclass(frozen=True, slots=True)
class HealthRow:
    """One device's totals over a period (rows of ``device_health`` summed)."""

    family: str
    device_id: str
    messages: int
    records: int
    dead_letters: dict[str, int]
    counter_gaps: int
    counter_resets: int
    skew_ms_mean: float | None
    skew_ms_max: float | None
    first_seen: datetime | None
    last_seen: datetime | None


_SELECT = """
SELECT family, device_id, sum(messages), sum(records),
       (SELECT coalesce(jsonb_object_agg(k, n), '{{}}'::jsonb) FROM (
            SELECT e.key AS k, sum(e.value::bigint) AS n
              FROM {table} h2, jsonb_each_text(h2.dead_letters) e
             WHERE h2.family = h.family AND h2.device_id = h.device_id AND h2.last_seen >= %(since)s
             GROUP BY e.key) x),
       sum(counter_gaps), sum(counter_resets),
       CASE WHEN sum(skew_n) > 0 THEN sum(skew_ms_sum) / sum(skew_n) END,
       max(skew_ms_max), min(first_seen), max(last_seen)
  FROM {table} h
 WHERE last_seen >= %(since)s
 GROUP BY family, device_id
"""


def _row(r: Sequence[Any]) -> HealthRow:
    letters = r[4] if isinstance(r[4], dict) else json.loads(r[4] or "{}")
    return HealthRow(
        family=str(r[0]),
        device_id=str(r[1]),
        messages=int(r[2] or 0),
        records=int(r[3] or 0),
        dead_letters={str(k): int(v) for k, v in letters.items()},
        counter_gaps=int(r[5] or 0),
        counter_resets=int(r[6] or 0),
        skew_ms_mean=None if r[7] is None else float(r[7]),
        skew_ms_max=None if r[8] is None else float(r[8]),
        first_seen=r[9],
        last_seen=r[10],
    )


async def fetch_health(
    conn: psycopg.AsyncConnection[Any], since: datetime, schema: str = "sensegate"
) -> dict[tuple[str, str], HealthRow]:
    """Per device totals of the windows seen since ``since``."""
    stmt = sql.SQL(_SELECT).format(table=sql.Identifier(schema, "device_health"))
    cur = await conn.execute(stmt, {"since": since})
    return {(str(r[0]), str(r[1])): _row(r) for r in await cur.fetchall()}
