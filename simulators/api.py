"""Library API used by the CLI, the demo, the tests and the benchmarks.

* ``build_fleets`` / ``generate``: the deterministic item stream of a run (no broker needed);
* ``run_fleet`` / ``run_fleet_async``: generate and publish, with outcome log and replay file;
* ``replay_file``: publish a replay file at a speed factor;
* ``verify`` / ``verify_async``: the counting oracle over an outcome log.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from contracts.families import FAMILIES as REGISTERED
from contracts.families import FAMILY_NAMES, load_reference
from contracts.topics import dlq_topic, quarantine_topic, raw_topic
from simulators.exceptions import ConfigError
from simulators.faults import DEFAULT_OVERSIZE_BYTES, apply_stream_faults
from simulators.iiot import IiotFleet
from simulators.model import SimItem
from simulators.oracle import Observations, OracleReport, evaluate, read_log
from simulators.registry_csv import DeviceRow, render_csv
from simulators.replay import read_replay
from simulators.runner import RunOptions, RunSummary, make_run_id, run_items
from simulators.spec import Fleet, FleetSpec
from simulators.timebase import now_ms

__all__ = [
    "FAMILIES",
    "FleetConfig",
    "VerifyOptions",
    "build_fleets",
    "generate",
    "registry_csv",
    "replay_file",
    "replay_file_async",
    "run_fleet",
    "run_fleet_async",
    "verify",
    "verify_async",
]

logger = logging.getLogger(__name__)

# The registered device families (contracts/families/); each names its fleet class.
FAMILIES = FAMILY_NAMES


def _fleet_factory(family: str) -> Callable[[FleetSpec], Fleet]:
    return cast(Callable[[FleetSpec], Fleet], load_reference(REGISTERED[family].fleet))


@dataclass(frozen=True)
class FleetConfig:
    """One run: families, totals (split evenly over families), seed, start time, faults, options."""

    families: Sequence[str] = FAMILIES
    devices: int = 3
    rate: float = 10.0
    duration_s: float = 10.0
    seed: int = 1
    start_ms: int | None = None
    max_messages: int | None = None
    faults: Mapping[str, float] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    oversize_bytes: int = DEFAULT_OVERSIZE_BYTES

    def resolved_start(self) -> int:
        """The fixed start time, or now."""
        return self.start_ms if self.start_ms is not None else now_ms()

    def run_id(self, start_ms: int) -> str:
        """Deterministic id of this run's parameters."""
        return make_run_id(
            ",".join(self.families),
            self.devices,
            self.rate,
            self.duration_s,
            self.seed,
            start_ms,
            sorted(self.faults.items()),
            self.max_messages,
        )


def build_fleets(config: FleetConfig, start_ms: int) -> list[Fleet]:
    """One fleet per family, devices/rate/messages split evenly (each family gets at least one)."""
    unknown = [f for f in config.families if f not in REGISTERED]
    if unknown or not config.families:
        msg = f"unknown families {unknown}; choose from {', '.join(FAMILIES)}"
        raise ConfigError(msg)
    n = len(config.families)
    fleets: list[Fleet] = []
    for family in config.families:
        spec = FleetSpec(
            devices=max(1, math.ceil(config.devices / n)),
            rate=config.rate / n,
            duration_s=config.duration_s,
            seed=config.seed,
            start_ms=start_ms,
            max_messages=math.ceil(config.max_messages / n) if config.max_messages else None,
            faults=config.faults,
            options=config.options,
        )
        fleets.append(_fleet_factory(family)(spec))
    return fleets


def generate(
    config: FleetConfig, start_ms: int | None = None, fleets: list[Fleet] | None = None
) -> Iterator[SimItem]:
    """The run's items in time order, faults applied (deterministic for a fixed start time)."""
    start = start_ms if start_ms is not None else config.resolved_start()
    fleets = fleets if fleets is not None else build_fleets(config, start)
    merged = heapq.merge(*(f.messages() for f in fleets), key=lambda item: item.t_ms)
    return apply_stream_faults(merged, config.faults, config.seed, config.oversize_bytes)


def registry_csv(config: FleetConfig) -> str:
    """The simulated fleet as registry CSV (device ids do not depend on the start time)."""
    rows: list[DeviceRow] = []
    for fleet in build_fleets(config, config.start_ms or 0):
        rows.extend(fleet.registry())
    return render_csv(rows)


def _rebirth_handler(fleets: list[Fleet]) -> object:
    iiot = [f for f in fleets if isinstance(f, IiotFleet)]

    def on_command(connection: str, topic: str, payload: bytes) -> None:
        if not iiot or not connection.startswith("iiot:"):
            return
        from processors.codecs.sparkplug import sparkplug_b_pb2 as pb

        message = pb.Payload()  # type: ignore[attr-defined]
        try:
            message.ParseFromString(payload)
        except Exception:
            logger.warning("ignoring undecodable NCMD on %s", topic)
            return
        if any(m.name == "Node Control/Rebirth" and m.boolean_value for m in message.metrics):
            logger.info("rebirth requested for %s", connection[5:])
            for fleet in iiot:
                fleet.request_rebirth(connection[5:])

    return on_command


async def run_fleet_async(config: FleetConfig, options: RunOptions) -> RunSummary:
    """Generate and publish a run (see ``run_items`` for the guarantees)."""
    start = config.resolved_start()
    fleets = build_fleets(config, start)
    run_id = options.run_id or config.run_id(start)
    opts = RunOptions(**{**options.__dict__, "run_id": run_id})
    handler = _rebirth_handler(fleets)
    return await run_items(generate(config, start, fleets), opts, on_command=handler)  # type: ignore[arg-type]


def run_fleet(config: FleetConfig, options: RunOptions) -> RunSummary:
    """Blocking wrapper of ``run_fleet_async`` (do not call from a running event loop)."""
    return asyncio.run(run_fleet_async(config, options))


async def replay_file_async(path: Path, options: RunOptions) -> RunSummary:
    """Publish a replay file, keeping its gaps divided by ``options.speed``."""
    header, items = read_replay(path)
    run_id = options.run_id or make_run_id("replay", path, header.get("meta"))
    opts = RunOptions(**{**options.__dict__, "run_id": run_id})
    return await run_items(items, opts)


def replay_file(path: Path, options: RunOptions) -> RunSummary:
    """Blocking wrapper of ``replay_file_async``."""
    return asyncio.run(replay_file_async(path, options))


@dataclass(frozen=True)
class VerifyOptions:
    """Where the oracle looks: Kafka (raw, DLQ, quarantine topics) and PostgreSQL."""

    bootstrap: str | None = "127.0.0.1:19092"
    topic_prefix: str = "sensegate."
    dsn: str | None = None
    schema: str = "sensegate"
    tables: Mapping[str, str] | None = None  # dataset -> table; default from the catalog
    exclusive: bool = False
    timeout_s: float = 60.0
    strict: bool = False  # a dead letter of valid data is a loss (``oracle.evaluate``)


def _tables_for(datasets: set[str], tables: Mapping[str, str] | None) -> dict[str, str]:
    if tables is not None:
        return {d: t for d, t in tables.items() if d in datasets}
    mapping = {d: d for d in datasets}
    try:
        from processors.catalog import load_catalog

        catalog = load_catalog()
        for d in datasets:
            entry = catalog.get(d)
            if entry is not None:
                mapping[d] = entry.storage_table
    except Exception as exc:
        logger.warning("catalog not loadable (%s); assuming table name = dataset code", exc)
    return mapping


async def verify_async(log_path: Path, options: VerifyOptions) -> OracleReport:
    """Read Kafka and the database and compare them with the outcome log at ``log_path``."""
    from simulators import oracle_sources as src

    entries = list(read_log(log_path))
    datasets = {
        g for e in entries for g in e.expected if g not in ("dlq", "quarantine", "none", "any")
    }
    families = sorted({e.family for e in entries if e.family})
    obs = Observations()
    if options.bootstrap:
        raws = [raw_topic(options.topic_prefix, f) for f in families]
        obs.raw = await src.read_raw_counts(options.bootstrap, raws, options.timeout_s)
        dead_topics = [dlq_topic(options.topic_prefix), quarantine_topic(options.topic_prefix)]
        obs.dead, obs.dead_reasons = await src.read_dead_letter_reasons(
            options.bootstrap, dead_topics, options.timeout_s
        )
    if options.dsn:
        tables = _tables_for(datasets, options.tables)
        obs.rows = await asyncio.to_thread(
            src.read_stored_rows, options.dsn, options.schema, tables
        )
        valued = {
            d: t for d, t in tables.items() if any(e.values and d in e.values for e in entries)
        }
        if valued:
            obs.values = await asyncio.to_thread(
                src.read_stored_values, options.dsn, options.schema, valued
            )
    return evaluate(
        entries,
        obs,
        exclusive=options.exclusive,
        db_checked=bool(options.dsn),
        strict=options.strict,
    )


def verify(log_path: Path, options: VerifyOptions) -> OracleReport:
    """Blocking wrapper of ``verify_async``."""
    return asyncio.run(verify_async(log_path, options))
