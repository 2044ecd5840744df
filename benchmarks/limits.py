"""Physical limits of this machine, measured in the same run as the stages: MQTT C clients, Kafka, COPY."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["StackTarget", "copy_limit", "kafka_producer_limit", "mqtt_c_client_limit"]

KAFKA_LIBS = Path(
    os.environ.get("SENSEGATE_CACHE", Path.home() / ".cache" / "sensegate")
) / "kafka-4.1.1" / "libs"


@dataclass(frozen=True)
class StackTarget:
    """Addresses of the stack under test (loopback only)."""

    mqtt_port: int = 11883
    kafka_bootstrap: str = "127.0.0.1:19092"
    pg_dsn: str = "postgresql://sensegate:sensegate@127.0.0.1:15432/sensegate"


def mqtt_c_client_limit(target: StackTarget, qos: int, count: int, payload_size: int = 200) -> dict[str, float]:
    """Messages/s that mosquitto_sub receives from mosquitto_pub through the broker (C clients)."""
    topic = f"bench/limit/{uuid.uuid4().hex[:8]}"
    line = "x" * (payload_size - 1)  # mosquitto_pub -l strips the newline
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write((line + "\n") * count)
        source = fh.name
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(target.mqtt_port), "-t", topic,
         "-q", str(qos), "-C", str(count), "-W", "120"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # let the subscription settle before publishing
    start = time.perf_counter()
    with open(source, "rb") as stdin:
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(target.mqtt_port), "-t", topic,
             "-q", str(qos), "-l"],
            stdin=stdin, check=True, timeout=180,
        )
    sub.wait(timeout=180)
    elapsed = time.perf_counter() - start
    os.unlink(source)
    return {"messages": float(count), "seconds": elapsed, "msg_per_s": count / elapsed}


def kafka_producer_limit(target: StackTarget, count: int, record_size: int = 200) -> dict[str, float]:
    """Kafka's own producer rate (ProducerPerformance from the same Kafka artifacts), acks=all."""
    topic = f"bench.limit.{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{KAFKA_LIBS}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(count), "--record-size", str(record_size),
         "--throughput", "-1", "--producer-props", f"bootstrap.servers={target.kafka_bootstrap}",
         "acks=all", "linger.ms=5"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    last = [ln for ln in out.splitlines() if "records sent" in ln][-1]
    rate = float(re.search(r"([\d.]+) records/sec", last).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"([\d.]+) ms 99th", last)
    return {"messages": float(count), "msg_per_s": rate, "p99_ms": float(p99.group(1)) if p99 else -1.0}


def copy_limit(target: StackTarget, rows: int) -> dict[str, float]:
    """Rows/s of a raw psycopg COPY of the dataset row shape into an unlogged-free plain table."""
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(target.pg_dsn) as conn:
        conn.execute(
            f"CREATE TEMP TABLE {table} (time timestamptz, entity_id text, record_id text, "
            "natural_key text, v1 double precision, v2 double precision, v3 double precision, "
            "quality text[], provenance_id bigint)"
        )
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            f"COPY {table} (time, entity_id, record_id, natural_key, v1, v2, v3, quality, provenance_id) FROM STDIN"
        ) as copy:
            now = time.time()
            for i in range(rows):
                copy.write_row((
                    time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + i / 1000)),
                    f"dev{i % 500}", f"{i:064x}", f"dev{i % 500}|{i}", i * 0.5, 20.0, 55.5, ["ok"], i,
                ))
        conn.commit()
        elapsed = time.perf_counter() - start
    return {"rows": float(rows), "seconds": elapsed, "rows_per_s": rows / elapsed}
