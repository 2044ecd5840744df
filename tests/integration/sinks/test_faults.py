"""Fault tests of the sink: kill -9 mid-transaction, PostgreSQL restarted mid-stream, and a failed
consume loop (supervised: the process exits 1, a restart stores everything once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from processors.catalog import Catalog
from processors.provenance.verify import verify_store
from processors.sinks.service import SinkService
from processors.sinks.timescale import connect
from processors.storage.migrate import migrate
from runtime.faults import FAULTS_ENV
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import (
    count_rows,
    produce,
    sink_env,
    sink_settings,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.fault


def _start_sink(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "processors", "sink"],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def _verify_clean(dsn: str, schema: str, catalog: Catalog, leaves: int) -> None:
    conn = await connect(dsn, schema, "test-verify")
    async with conn:
        report = await verify_store(conn, catalog, [], now=datetime.now(UTC))
    assert report.ok, [str(f) for f in report.findings]
    assert report.leaves == leaves


async def test_kill_9_mid_transaction_then_restart(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
    tmp_path: Path,
) -> None:
    prefix, group = unique_name("p") + ".", unique_name("g")
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=group, seed=signing_seed, batch=40,
    )  # fmt: skip
    total = 4000
    await produce(stack.kafka_bootstrap, prefix, list(soil_records(total, devices=10)))
    env, log = sink_env(settings), tmp_path / "sink.log"
    first = _start_sink(env, log)
    try:
        app = f"sensegate-sink:{group}"[:63]  # PostgreSQL truncates names to 63 bytes
        caught = False
        with psycopg.connect(stack.pg_dsn, autocommit=True) as admin:

            def in_transaction() -> bool:
                nonlocal caught
                if first.poll() is not None:
                    raise AssertionError(log.read_text())
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                    "AND xact_start IS NOT NULL AND state <> 'idle'",
                    (app,),
                ).fetchone()
                busy = bool(row and row[0]) and count_rows(stack.pg_dsn, pg_schema)[0] > 0
                if busy:
                    first.send_signal(signal.SIGKILL)
                    caught = True
                return busy

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while not in_transaction():
                assert loop.time() < deadline, log.read_text()
                await asyncio.sleep(0.005)
    finally:
        if first.poll() is None:  # the test failed before the kill: do not leave it running
            first.kill()
    first.wait(timeout=30)
    assert caught
    assert first.returncode == -signal.SIGKILL
    stored_before = count_rows(stack.pg_dsn, pg_schema)[0]
    assert 0 < stored_before < total

    second = _start_sink(env, log)
    try:
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= total, limit_s=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert count_rows(stack.pg_dsn, pg_schema) == (total, total)
    await _verify_clean(stack.pg_dsn, pg_schema, catalog, 2 * total)


async def test_postgres_restart_mid_stream(
    stack: StackAddresses,
    private_postgres: PrivatePostgres,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    dsn, schema = private_postgres.dsn, "sensegate"
    await asyncio.to_thread(migrate, dsn, schema, catalog, mode="plain")
    prefix = unique_name("p") + "."
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=dsn, schema=schema, prefix=prefix,
        group=unique_name("g"), seed=signing_seed, batch=50,
    )  # fmt: skip
    records = list(soil_records(2000, devices=6))
    await produce(stack.kafka_bootstrap, prefix, records[:1000])
    service = SinkService(settings, catalog)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_until(lambda: count_rows(dsn, schema)[0] > 0)
        await asyncio.to_thread(private_postgres.restart)
        await produce(stack.kafka_bootstrap, prefix, records[1000:])
        await wait_until(lambda: count_rows(dsn, schema)[0] >= 2000, limit_s=90)
    finally:
        stop.set()
        await task
    assert count_rows(dsn, schema) == (2000, 2000)
    assert service.sink.retries >= 1
    await _verify_clean(dsn, schema, catalog, 4000)


async def test_failed_consume_loop_exits_nonzero_then_restart_stores_everything_once(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
    tmp_path: Path,
) -> None:
    # The test-only fault point "sink.flush" (runtime/faults.py) raises in the real consume loop
    # at its first batch: the supervised service must log it and exit 1, storing nothing.
    prefix, group = unique_name("p") + ".", unique_name("g")
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=group, seed=signing_seed, batch=100,
    )  # fmt: skip
    total = 300
    await produce(stack.kafka_bootstrap, prefix, list(soil_records(total, devices=5)))
    env, log = sink_env(settings), tmp_path / "sink.log"
    first = _start_sink({**env, FAULTS_ENV: "sink.flush"}, log)
    try:
        returncode = await asyncio.to_thread(first.wait, 90)
    finally:
        if first.poll() is None:
            first.kill()
    text = log.read_text()
    assert returncode == 1, text[-3000:]
    assert "sink-consume failed" in text
    assert "InjectedFault: injected fault at sink.flush" in text  # the traceback
    assert "sink exits with status 1" in text
    assert count_rows(stack.pg_dsn, pg_schema) == (0, 0)

    second = _start_sink(env, log)
    try:
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= total, limit_s=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0, log.read_text()[-3000:]
    assert count_rows(stack.pg_dsn, pg_schema) == (total, total)
