"""Benchmark: sink throughput with COPY batching next to a raw psycopg COPY, and verify rate.

Usage: ``python -m benchmarks.sink_copy [--rows 20000] [--batch 2000] [--dsn DSN]``. Runs in a
private schema of the given database (default: the stack's) and drops it afterwards.

* raw COPY: the same data rows COPYed into a table of the same columns, UNIQUE constraint and
  indexes (no partitioning, no foreign key, no provenance, no log) - the floor cost of the bytes;
* sink: ``TimescaleSink.flush`` per batch - validation, direct COPY (staging COPY and
  ``INSERT … ON CONFLICT`` when a key exists), provenance rows, log leaves with hash chains, offset
  compare-and-set, one transaction per batch, plus signed checkpoints. The sink process's CPU
  seconds are printed too: on a shared machine they vary less than the wall-clock rate;
* verify: ``verify_store`` over everything the sink wrote (rows and leaves recomputed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from pydantic import SecretStr

from contracts.dead_letter import DeadLetter
from processors.catalog import load_catalog
from processors.provenance.keys import generate_seed
from processors.provenance.rowdocs import data_columns
from processors.provenance.verify import verify_store
from processors.sinks.base import SinkInput
from processors.sinks.config import ProvenanceConfig, SinkConfig
from processors.sinks.rows import data_row, prepare
from processors.sinks.timescale import TimescaleSink, connect
from processors.storage.migrate import migrate
from tests.fixtures.records import soil_records


async def _no_letters(letters: Sequence[DeadLetter]) -> None:
    if letters:
        msg = f"{len(letters)} unexpected dead letters"
        raise RuntimeError(msg)


def _raw_copy(dsn: str, schema: str, values: Sequence[bytes]) -> float:
    catalog = load_catalog()
    rows = [
        data_row(prepare(SinkInput("b.data.agri_soil", 0, i, v), catalog, "b."), datetime.now(UTC))
        for i, v in enumerate(values)
    ]
    entry = catalog.get("agri_soil")
    if entry is None:
        msg = "the catalog has no agri_soil entry"
        raise RuntimeError(msg)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in data_columns(entry))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING INDEXES "
                "INCLUDING CONSTRAINTS)"
            ).format(sql.Identifier(schema, "raw_copy"), sql.Identifier(schema, "agri_soil"))
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(schema, "raw_copy"), columns
                )
            ) as copy,
        ):
            for row in rows:
                copy.write_row(
                    tuple(psycopg.types.json.Jsonb(v) if isinstance(v, dict) else v for v in row)
                )
        conn.commit()
        return time.perf_counter() - started


async def _sink(
    dsn: str, schema: str, values: Sequence[bytes], batch: int
) -> tuple[float, float, int]:
    catalog = load_catalog()
    prov = ProvenanceConfig(signing_key=SecretStr(generate_seed()), checkpoint_every_leaves=10000)
    sink = TimescaleSink(
        dsn=dsn,
        schema=schema,
        catalog=catalog,
        group_id="bench",
        topic_prefix="b.",
        dead_letters=_no_letters,
        provenance=prov,
        config=SinkConfig(),
    )
    stored = 0
    async with sink:
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(values), batch):
            for i, value in enumerate(values[start : start + batch], start):
                sink.add(SinkInput("b.data.agri_soil", 0, i, value))
            stored += (await sink.flush()).stored
        await sink.checkpoint()
        return time.perf_counter() - started, time.process_time() - cpu, stored


async def _verify(dsn: str, schema: str) -> tuple[float, int, int]:
    conn = await connect(dsn, schema, "bench-verify")
    async with conn:
        report = await verify_store(conn, load_catalog(), [], now=datetime.now(UTC))
    if not report.ok:
        msg = f"verify found {len(report.findings)} problems"
        raise RuntimeError(msg)
    return report.seconds, report.rows, report.leaves


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    # No built-in DSN (no password has a default): operator.env sets SENSEGATE_DB__DSN.
    parser.add_argument("--dsn", default=os.environ.get("SENSEGATE_DB__DSN"))
    args = parser.parse_args()
    if not args.dsn:
        parser.error("required setting not set: SENSEGATE_DB__DSN (or --dsn)")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    # Only the Kafka values are kept, as a consumer would have them; start-up objects are frozen
    # out of the cyclic collector as ``python -m processors sink`` does.
    values = [r.to_kafka_value() for r in soil_records(args.rows, devices=50)]
    gc.collect()
    gc.freeze()
    migrate(args.dsn, schema, load_catalog(), mode="plain")
    try:
        raw_s = _raw_copy(args.dsn, schema, values)
        sink_s, sink_cpu, stored = asyncio.run(_sink(args.dsn, schema, values, args.batch))
        verify_s, rows, leaves = asyncio.run(_verify(args.dsn, schema))
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    n = len(values)
    print(f"rows: {n}, sink batch: {args.batch}, storage path: plain PostgreSQL (partitioned)")
    print(f"raw psycopg COPY      : {raw_s:7.2f} s  {n / raw_s:9.0f} rows/s")
    print(
        f"sink (COPY batching)  : {sink_s:7.2f} s  {stored / sink_s:9.0f} rows/s  (stored {stored}, "
        f"sink process CPU {sink_cpu:.2f} s)"
    )
    print(f"sink / raw COPY       : {raw_s / sink_s:7.2%} of raw COPY throughput")
    print(
        f"provenance verify     : {verify_s:7.2f} s  {rows / verify_s:9.0f} rows/s  "
        f"({rows} rows incl. provenance, {leaves} leaves)"
    )


if __name__ == "__main__":
    main()
