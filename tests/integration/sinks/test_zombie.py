"""F16 / W10: a zombie sink. Sink A is frozen (SIGSTOP) past its session timeout, sink B takes its
partitions over and stores on; then A runs again, still believing it owns them.

A's writes lock the stored offsets and skip what is below them, and every offset move is a
compare-and-set, so whatever A still had fetched is a no-op. Pass: every record stored exactly
once, neither sink crash-looping. Real Kafka and PostgreSQL of the test stack; sinks as processes.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from processors.catalog import Catalog
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import count_rows, produce, sink_env, sink_settings, wait_until
from tests.integration.sinks.test_faults import _start_sink

pytestmark = pytest.mark.fault


def _idle_freeze(proc: subprocess.Popen[bytes], dsn: str, app: str) -> None:
    """SIGSTOP the sink outside a transaction (a frozen open transaction would hold row locks)."""
    for _ in range(200):
        proc.send_signal(signal.SIGSTOP)
        with psycopg.connect(dsn, autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND xact_start IS NOT NULL",
                (app,),
            ).fetchone()
        if row is not None and row[0] == 0:
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    msg = "could not freeze the sink between transactions"
    raise AssertionError(msg)


async def test_f16_zombie_sink_resumes_without_doubling(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
    tmp_path: Path,
) -> None:
    """A frozen 10 s beyond its 6 s session; B stores on; A thaws; more data: all stored once."""
    del catalog
    prefix, group = unique_name("p") + ".", unique_name("g")
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=group, seed=signing_seed, batch=100,
    )  # fmt: skip
    env = sink_env(settings)
    records = list(soil_records(2400, devices=8))

    def rows() -> int:
        return count_rows(stack.pg_dsn, pg_schema)[0]

    await produce(stack.kafka_bootstrap, prefix, records[:800])
    log_a, log_b = tmp_path / "sink-a.log", tmp_path / "sink-b.log"
    a = _start_sink(env, log_a)
    b: subprocess.Popen[bytes] | None = None
    try:
        await wait_until(lambda: rows() >= 800, limit_s=90)
        _idle_freeze(a, stack.pg_dsn, f"sensegate-sink:{group}"[:63])
        await produce(stack.kafka_bootstrap, prefix, records[800:1600])
        b = _start_sink(env, log_b)
        await wait_until(lambda: rows() >= 1600, limit_s=90)  # B alone, after A's session expired
        await asyncio.sleep(4)  # A frozen for longer than its session timeout in any case
        a.send_signal(signal.SIGCONT)  # the zombie wakes up
        await produce(stack.kafka_bootstrap, prefix, records[1600:])
        await wait_until(lambda: rows() >= 2400, limit_s=120)
        await asyncio.sleep(3)  # room for a late double write
        assert a.poll() is None and b.poll() is None, "a sink exited"
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    stored = count_rows(stack.pg_dsn, pg_schema)
    zombie_lines = [line for line in log_a.read_text().splitlines() if "skipped" in line]
    print(f"F16: rows={stored[0]} distinct={stored[1]}; zombie's last batch lines: "
          f"{zombie_lines[-2:]}")  # fmt: skip
    assert stored == (2400, 2400)
