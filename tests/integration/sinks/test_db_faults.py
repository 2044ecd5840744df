"""Sink against a misbehaving PostgreSQL: its backend killed mid-stream (F14), the table locked (F20).

Real Kafka and PostgreSQL of the test stack; the sink runs in process. The oracle is the table:
every produced record stored exactly once (rows = distinct record ids = produced).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import (
    count_rows,
    produce,
    running_sink,
    sink_settings,
    wait_until,
)

pytestmark = pytest.mark.fault


def _terminate_backends(dsn: str, app: str) -> int:
    """``pg_terminate_backend`` every connection of the sink (what a kill -9 of the backend does)."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


async def test_f14_sink_backend_killed_mid_stream_stores_everything_once(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    """F14: the sink's PostgreSQL backend is terminated three times while it writes batches."""
    prefix, group = unique_name("p") + ".", unique_name("g")
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=group, seed=signing_seed, batch=50,
    )  # fmt: skip
    total = 3000
    records = list(soil_records(total, devices=8))
    await produce(stack.kafka_bootstrap, prefix, records[:1500])
    app = f"sensegate-sink:{group}"[:63]
    killed = 0
    async with running_sink(settings, catalog) as service:
        for step in range(3):
            floor = count_rows(stack.pg_dsn, pg_schema)[0]
            await wait_until(lambda f=floor: count_rows(stack.pg_dsn, pg_schema)[0] > f)
            killed += await asyncio.to_thread(_terminate_backends, stack.pg_dsn, app)
            if step == 0:
                await produce(stack.kafka_bootstrap, prefix, records[1500:])
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= total, limit_s=120)
        await asyncio.sleep(1.0)  # a late duplicate write would show up now
    rows = count_rows(stack.pg_dsn, pg_schema)
    print(f"F14: {killed} backends terminated; rows={rows[0]} distinct={rows[1]} "
          f"retries={service.sink.retries}")  # fmt: skip
    assert killed >= 3
    assert rows == (total, total)
    assert service.sink.retries >= 1


async def test_f20_locked_table_holds_the_sink_then_drains(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    """F20: ``LOCK TABLE … ACCESS EXCLUSIVE`` held for 15 s: nothing is stored meanwhile, the
    offsets do not move past what is stored, and after the release everything is stored once."""
    prefix, group = unique_name("p") + ".", unique_name("g")
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=group, seed=signing_seed, batch=50,
    )  # fmt: skip
    total = 2000
    records = list(soil_records(total, devices=8))
    await produce(stack.kafka_bootstrap, prefix, records[:500])
    table = sql.Identifier(pg_schema, "agri_soil")
    async with running_sink(settings, catalog) as service:
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= 500)
        with psycopg.connect(stack.pg_dsn) as locker:
            # in a thread: the lock waits for the sink's open transaction, which needs this loop
            await asyncio.to_thread(
                locker.execute, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table)
            )
            await produce(stack.kafka_bootstrap, prefix, records[500:])
            held_from = time.monotonic()
            await asyncio.sleep(15)
            # the table is locked for every reader but us: count inside the locking transaction
            during = locker.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            assert service.stored == 500, "the sink stored while the table was locked"
            locker.rollback()  # releases the lock
        print(f"F20: lock held {time.monotonic() - held_from:.1f} s; rows meanwhile {during}")
        assert during is not None and during[0] == 500
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= total, limit_s=120)
        await asyncio.sleep(1.0)
    assert count_rows(stack.pg_dsn, pg_schema) == (total, total)
