"""Physical limits of this machine, measured in the same run as the stages: MQTT C clients, Kafka, COPY."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.c_publisher import publish_lines

__all__ = ["StackTarget", "copy_limit", "kafka_producer_limit", "mqtt_c_client_limit"]

KAFKA_LIBS = Path(
    os.environ.get("SENSEGATE_CACHE", Path.home() / ".cache" / "sensegate")
) / "kafka-4.1.1" / "libs"


@dataclass(frozen=True)
class StackTarget:
    """Addresses of the stack under test (loopback only)."""

    mqtt_port: int = 11883
    kafka_bootstrap: str = "127.0.0.1:19092"
    pg_dsn: str = ""  # the operator's (owner) DSN; no default password
    kafka_client_config: Path | None = None  # Java client properties of the admin principal


def admin_client_properties() -> Path:
    """The Java client properties of the stack's Kafka admin principal (written by the stack)."""
    return Path(os.environ.get("SENSEGATE_STATE", ".state")) / "secrets" / "kafka-admin.properties"


def mqtt_c_client_limit(target: StackTarget, qos: int, count: int, payload_size: int = 200) -> dict[str, float]:
    """Messages/s that mosquitto_sub receives from mosquitto_pub through the broker (C clients).

    The subscriber writes what it receives to a file, so a QoS 0 run that loses messages reports
    what arrived instead of waiting for a count that never comes; ``-W`` bounds the wait.
    """
    topic = f"bench/limit/{uuid.uuid4().hex[:8]}"
    line = "x" * (payload_size - 1)  # mosquitto_pub -l strips the newline
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write((line + "\n") * count)
        source = fh.name
    sink_fd, sink_path = tempfile.mkstemp(suffix=".out")
    wait_s = max(10, int(count / 2000))
    try:
        with os.fdopen(sink_fd, "wb") as out:
            sub = subprocess.Popen(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(target.mqtt_port), "-t", topic,
                 "-q", str(qos), "-C", str(count), "-W", str(wait_s)],
                stdout=out, stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # let the subscription settle before publishing
            start = time.perf_counter()
            publish_lines(target.mqtt_port, topic, Path(source), qos, timeout_s=180)
            try:
                sub.wait(timeout=wait_s + 5)
            except subprocess.TimeoutExpired:
                sub.kill()
                sub.wait(timeout=5)
            elapsed = time.perf_counter() - start
        with open(sink_path, "rb") as fh_in:
            received = sum(chunk.count(b"\n") for chunk in iter(lambda: fh_in.read(1 << 20), b""))
    finally:
        os.unlink(source)
        os.unlink(sink_path)
    if received < count:
        # the subscriber timed out: its wait is not transfer time, so the rate is a lower bound
        return {"messages": float(count), "received": float(received), "seconds": elapsed,
                "msg_per_s": received / elapsed, "complete": 0.0}
    return {"messages": float(count), "received": float(received), "seconds": elapsed,
            "msg_per_s": count / elapsed, "complete": 1.0}


def kafka_producer_limit(
    target: StackTarget, count: int, record_size: int = 200, topic: str | None = None
) -> dict[str, float]:
    """Kafka's own producer rate (ProducerPerformance from the same Kafka artifacts), acks=all."""
    topic = topic or f"bench.limit.{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{KAFKA_LIBS}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(count), "--record-size", str(record_size),
         "--throughput", "-1", "--producer-props", f"bootstrap.servers={target.kafka_bootstrap}",
         "acks=all", "linger.ms=5",
         *(["--producer.config", str(target.kafka_client_config)] if target.kafka_client_config else [])],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    last = [ln for ln in out.splitlines() if "records sent" in ln][-1]
    rate = float(re.search(r"([\d.]+) records/sec", last).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"([\d.]+) ms 99th", last)
    return {"messages": float(count), "msg_per_s": rate, "p99_ms": float(p99.group(1)) if p99 else -1.0}


def copy_limit(target: StackTarget, rows: int) -> dict[str, float]:
    """Rows/s of a raw psycopg COPY of a dataset row shape (agri_soil) into a regular table.

    A regular (WAL-logged) table with the dataset tables' UNIQUE (record_id, observed_at) index,
    in a scratch schema dropped afterwards: a TEMP table skips WAL and would overstate the limit.
    Row values are prepared before the clock starts so the figure is PostgreSQL + psycopg only.
    """
    schema = f"bench_copy_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    data = [
        (now + timedelta(milliseconds=i), now, now, f"{i:064x}", f"dev{i % 500}",
         f"dev{i % 500}|{i}", ["latency_ok"], None, f"p{i:063x}", 1,
         20.0 + i % 10, 18.5, 350.0, 6.8, 3.6, i, -80.0, 9.5)
        for i in range(rows)
    ]
    with psycopg.connect(target.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            table = sql.Identifier(schema, "copy_limit")
            conn.execute(sql.SQL(
                "CREATE TABLE {} (observed_at timestamptz NOT NULL, received_at timestamptz NOT NULL, "
                "ingested_at timestamptz NOT NULL, record_id text NOT NULL, entity_id text NOT NULL, "
                "natural_key text NOT NULL, quality text[] NOT NULL, location jsonb, "
                "provenance_id text NOT NULL, catalog_version integer NOT NULL, "
                "soil_moisture double precision, soil_temperature double precision, "
                "soil_ec double precision, soil_ph double precision, battery double precision, "
                "f_cnt bigint, rssi double precision, snr double precision, "
                "UNIQUE (record_id, observed_at))"
            ).format(table))
            start = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                sql.SQL("COPY {} FROM STDIN").format(table)
            ) as copy:
                for row in data:
                    copy.write_row(row)
            elapsed = time.perf_counter() - start
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return {"rows": float(rows), "seconds": elapsed, "rows_per_s": rows / elapsed}
