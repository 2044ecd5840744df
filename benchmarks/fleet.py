"""The simulated mixed fleet for the benchmark: configs, registration, publishing and latency matching.

Every phase gets its own seed (so ChirpStack deduplication ids and Sparkplug bdSeq differ and no
phase's messages are de-duplicated against another's) and an event-time origin in the past (so a
fleet published faster than its nominal rate never carries future timestamps, which the normalize
stage refuses). V2X topics carry a run-specific driver suffix so the harness's gateway can subscribe
to its own RSU traffic only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from simulators.api import FleetConfig, build_fleets, generate, registry_csv
from simulators.iiot.fleet import GROUP
from simulators.model import SimItem, SimMessage
from simulators.oracle import read_log
from simulators.runner import RunOptions, RunSummary, run_items

__all__ = [
    "DEVICES",
    "fleet_config",
    "latencies_ms",
    "pregenerate",
    "publish",
    "register",
    "stored_hashes",
    "subscriptions",
]

DEVICES = 30  # mixed fleet: 10 RSUs, 10 LoRaWAN probes, 10 Sparkplug edge nodes


def fleet_config(seed: int, rate: float, duration_s: float, driver: str, devices: int = DEVICES) -> FleetConfig:
    """The mixed fleet of one phase: all QoS 1 (Sparkplug too, so the oracle can count every message)."""
    start_ms = int(time.time() * 1000) - int(duration_s * 1000) - 5000
    return FleetConfig(
        devices=devices, rate=rate, duration_s=duration_s, seed=seed, start_ms=start_ms,
        options={"sparkplug_qos": "1", "qos": "1", "v2x_driver": driver},
    )


def pregenerate(config: FleetConfig) -> list[SimItem]:
    """Every item of the phase, generated before publishing so encoding cost is not in the figures."""
    return list(generate(config, config.start_ms))


def subscriptions(configs: Iterable[FleetConfig], driver: str) -> list[str]:
    """MQTT topic filters that match this run's fleets (and little else)."""
    subs = [f"V2X/RSU/+/+/UP/{driver}", f"spBv1.0/{GROUP}/#"]
    for config in configs:
        for fleet in build_fleets(config, config.start_ms or 0):
            app = getattr(fleet, "application_id", None)
            if app:
                subs.append(f"application/{app}/device/+/event/+")
    return sorted(set(subs))


def register(configs: Iterable[FleetConfig], env: dict[str, str], work: Path) -> str:
    """Import the fleets into the device registry of the run's schema; returns the CLI output."""
    rows: dict[tuple[str, str], list[str]] = {}
    header: list[str] = []
    for config in configs:
        reader = csv.reader(io.StringIO(registry_csv(config)))
        header = next(reader)
        for row in reader:
            rows[(row[0], row[1])] = row
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows.values())
    path = work / "registry.csv"
    path.write_text(out.getvalue())
    # agricultural devices are bound to profiles, which must be registered first
    subprocess.run(
        [sys.executable, "-m", "processors", "profiles", "register", "--no-write-back"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    # The run publishes with its own throwaway login (benchmarks/mqtt_login.py), so no device
    # needs a broker credential of its own: --no-broker (the import warns that it issued none).
    done = subprocess.run(
        [sys.executable, "-m", "processors", "devices", "import", str(path), "--no-broker"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        msg = f"device import failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        raise RuntimeError(msg)
    return done.stdout.strip()


async def publish(
    items: Sequence[SimItem], mqtt_port: int, log_path: Path, speed: float, client_prefix: str
) -> RunSummary:
    """Publish pre-generated items (``speed`` 0 = flat out) with the simulators' engine and oracle log.

    The publisher runs on its own event loop in a worker thread, so that publishing flat out does
    not starve the harness's loop (the probe's samples would come late and skew the rates).
    """
    options = RunOptions(
        host="127.0.0.1", port=mqtt_port, speed=speed, log_path=log_path, progress=False,
        username=os.environ.get("SENSEGATE_MQTT__USERNAME"),
        password=os.environ.get("SENSEGATE_MQTT__PASSWORD"),
        run_id=client_prefix, client_prefix=client_prefix, ack_timeout_s=30.0, max_pending=2000,
    )
    return await asyncio.to_thread(asyncio.run, run_items(items, options))


def message_count(items: Sequence[SimItem]) -> int:
    """Messages (not connection events) among ``items``."""
    return sum(1 for i in items if isinstance(i, SimMessage) and i.publish)


def _ingest_times(dsn: str, schema: str, hashes: Sequence[str]) -> dict[str, float]:
    """Latest provenance ``ingested_at`` (epoch seconds) per raw payload SHA-256."""
    out: dict[str, float] = {}
    query = sql.SQL(
        "SELECT raw_sha256, EXTRACT(EPOCH FROM max(ingested_at)) FROM {}.provenance "
        "WHERE raw_sha256 = ANY(%s) GROUP BY raw_sha256"
    ).format(sql.Identifier(schema))
    with psycopg.connect(dsn) as conn:
        for start in range(0, len(hashes), 20000):
            for sha, epoch in conn.execute(query, (list(hashes[start : start + 20000]),)):
                out[sha] = float(epoch)
    return out


async def stored_hashes(dsn: str, schema: str, hashes: Sequence[str]) -> dict[str, float]:
    """Ingest time per payload hash that has reached the database (run in a thread)."""
    return await asyncio.to_thread(_ingest_times, dsn, schema, hashes)


def latencies_ms(log_path: Path, ingest: dict[str, float]) -> tuple[list[float], int]:
    """Publish-to-row latency per acknowledged message that produced rows (oracle log vs provenance).

    Returns (latencies, repeats): a byte-identical payload already stored by an earlier phase (a
    static MAP, say) is de-duplicated, so its only row predates the publish; such repeats are
    counted, not measured.
    """
    out: list[float] = []
    repeats = 0
    for entry in read_log(log_path):
        if entry.outcome != "ok" or entry.t_send is None:
            continue
        t_row = ingest.get(entry.payload_sha256)
        if t_row is not None:
            latency = (t_row - entry.t_send / 1e9) * 1000.0
            if latency < 0:
                repeats += 1
            else:
                out.append(latency)
    return out, repeats


def send_times(log_path: Path) -> list[float]:
    """Publish times (epoch seconds) of the acknowledged messages in an outcome log."""
    return [e.t_send / 1e9 for e in read_log(log_path) if e.outcome == "ok" and e.t_send is not None]


def ok_hashes(log_path: Path) -> dict[str, dict[str, Any]]:
    """Acknowledged messages expected to produce rows, by payload hash."""
    return {
        e.payload_sha256: {"family": e.family, "kind": e.kind}
        for e in read_log(log_path)
        if e.outcome == "ok" and e.expect == "data"
    }


def temp_dir(prefix: str) -> Path:
    """A private working directory for the run."""
    return Path(tempfile.mkdtemp(prefix=prefix))
