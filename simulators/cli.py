"""Command line: ``python -m simulators {<family>|mixed|replay|record|verify|registry-csv}``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from contracts.families import FAMILIES as REGISTERED
from runtime.cli_entry import parse_command
from simulators.api import (
    FAMILIES,
    FleetConfig,
    VerifyOptions,
    registry_csv,
    replay_file,
    run_fleet,
    verify,
)
from simulators.credentials import CredentialBook
from simulators.exceptions import SimulatorError
from simulators.faults import DEFAULT_OVERSIZE_BYTES, FAULT_NAMES, parse_faults
from simulators.record import DEFAULT_FILTERS, record
from simulators.runner import RunOptions
from simulators.timebase import parse_start_time

__all__ = ["build_parser", "main"]

# One sub-command per registered family (contracts/families/), plus every family at once.
_FLEET_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{f.name: (f.summary, (f.name,)) for f in REGISTERED.values()},
    "mixed": ("every family at once (demo and benchmarks)", FAMILIES),
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _add_broker(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default=_env("SENSEGATE_MQTT__HOST", "127.0.0.1"),
        help="MQTT host (env SENSEGATE_MQTT__HOST)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(_env("SENSEGATE_MQTT__PORT", "11883")),
        help="MQTT port (env SENSEGATE_MQTT__PORT)",
    )
    p.add_argument(
        "--username", default=os.environ.get("SENSEGATE_MQTT__USERNAME"), help="MQTT user name"
    )
    p.add_argument(
        "--password", default=os.environ.get("SENSEGATE_MQTT__PASSWORD"), help="MQTT password"
    )
    p.add_argument(
        "--credentials",
        type=Path,
        help="issued device credentials (devices import --credentials-out): each device "
        "publishes with its own identity",
    )
    p.add_argument("--tls-ca", type=Path, help="connect over TLS trusting this CA certificate")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log", type=Path, help="append the oracle outcome log (JSON lines) to this file"
    )
    p.add_argument("--save", type=Path, help="write the run as a replay file (.jsonl or .jsonl.gz)")
    p.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    p.add_argument(
        "--ack-timeout", type=float, default=30.0, help="seconds to wait for the last PUBACKs"
    )
    p.add_argument("--json", action="store_true", help="print the closing summary as JSON")


def _add_fleet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--devices", type=int, default=3, help="number of devices (mixed: total, split evenly)"
    )
    p.add_argument("--rate", type=float, default=10.0, help="offered messages/s (mixed: total)")
    p.add_argument("--duration", type=float, default=10.0, help="simulated seconds to run")
    p.add_argument("--messages", type=int, help="stop after this many ticks instead (per run)")
    p.add_argument("--seed", type=int, default=1, help="random seed: same seed, same traffic")
    p.add_argument("--start-time", help="fixed simulated start (ISO 8601 or Unix ms); default now")
    p.add_argument(
        "--speed", type=float, default=1.0, help="pace factor vs real time; 0 = flat out"
    )
    p.add_argument(
        "--faults", default="", help="comma list name=rate, e.g. 'duplicate=0.01,malformed=0.005'"
    )
    p.add_argument(
        "--oversize-bytes",
        type=int,
        default=DEFAULT_OVERSIZE_BYTES,
        help="size of 'oversized' payloads",
    )
    p.add_argument(
        "--qos", type=int, choices=(0, 1), default=1, help="QoS of V2X and agri messages"
    )
    p.add_argument(
        "--sparkplug-qos",
        type=int,
        choices=(0, 1),
        default=0,
        help="QoS of Sparkplug messages (spec: 0)",
    )
    p.add_argument("--v2x-encoding", choices=("mixed", "framed", "uper", "jer"), default="mixed")
    p.add_argument("--v2x-driver", default="", help="vendor driver suffix of V2X topics")
    p.add_argument("--sparkplug-group", default="JilinPlant", help="Sparkplug group id")
    p.add_argument("--agri-encoding", choices=("mixed", "lpp", "json"), default="mixed")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="sensegate device simulators: realistic fleets, record/replay, faults, counting oracle",
        epilog="faults: " + ", ".join(FAULT_NAMES),
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, _fam) in _FLEET_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_fleet(p)
        _add_broker(p)
        _add_output(p)
        p.add_argument(
            "--dry-run", action="store_true", help="print the items as JSON lines, publish nothing"
        )
    p = sub.add_parser("replay", help="publish a replay file at a speed factor")
    p.add_argument("file", type=Path)
    p.add_argument("--speed", type=float, default=1.0, help="pace factor; 0 = as fast as possible")
    _add_broker(p)
    _add_output(p)
    p = sub.add_parser("record", help="capture broker traffic into a replay file")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--topic",
        action="append",
        help=f"topic filter (repeatable; default {' '.join(DEFAULT_FILTERS)})",
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds to record")
    p.add_argument("--messages", type=int, help="stop after this many messages")
    _add_broker(p)
    p = sub.add_parser(
        "verify", help="counting oracle: compare an outcome log with Kafka and the database"
    )
    p.add_argument("--log", type=Path, required=True, help="outcome log written by a run")
    p.add_argument(
        "--bootstrap", default=_env("SENSEGATE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    p.add_argument("--topic-prefix", default=_env("SENSEGATE_KAFKA__TOPIC_PREFIX", "sensegate."))
    # No built-in DSN: a database password has no default (operator.env or auditor.env holds one).
    p.add_argument("--dsn", default=os.environ.get("SENSEGATE_DB__DSN"))
    p.add_argument("--schema", default=_env("SENSEGATE_DB__SCHEMA_NAME", "sensegate"))
    p.add_argument("--no-kafka", action="store_true", help="do not read the raw/DLQ topics")
    p.add_argument("--no-db", action="store_true", help="do not read the database")
    p.add_argument(
        "--exclusive", action="store_true", help="every row in the tables must come from this log"
    )
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed per Kafka topic scan"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p = sub.add_parser("registry-csv", help="print the simulated fleet as device-registry CSV")
    for flag, default, kind in (("--devices", 3, int), ("--seed", 1, int)):
        p.add_argument(flag, type=kind, default=default)
    p.add_argument("--families", default=",".join(FAMILIES), help="comma list of families")
    p.add_argument("--v2x-encoding", choices=("mixed", "framed", "uper", "jer"), default="mixed")
    p.add_argument("--agri-encoding", choices=("mixed", "lpp", "json"), default="mixed")
    return parser


def _options(args: argparse.Namespace) -> dict[str, str]:
    return {
        "qos": str(getattr(args, "qos", 1)),
        "sparkplug_qos": str(getattr(args, "sparkplug_qos", 0)),
        "v2x_encoding": args.v2x_encoding,
        "v2x_driver": getattr(args, "v2x_driver", ""),
        "sparkplug_group": getattr(args, "sparkplug_group", "JilinPlant"),
        "agri_encoding": args.agri_encoding,
    }


def _run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        speed=args.speed,
        log_path=args.log,
        save_path=args.save,
        ack_timeout_s=args.ack_timeout,
        progress=not args.no_progress,
        credentials=CredentialBook.load(args.credentials) if args.credentials else None,
        tls_ca=args.tls_ca,
    )


def _fleet(args: argparse.Namespace) -> int:
    from simulators.api import generate
    from simulators.replay import item_to_json

    config = FleetConfig(
        families=_FLEET_COMMANDS[args.command][1],
        devices=args.devices,
        rate=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        start_ms=parse_start_time(args.start_time),
        max_messages=args.messages,
        faults=parse_faults(args.faults),
        options=_options(args),
        oversize_bytes=args.oversize_bytes,
    )
    if args.dry_run:
        for item in generate(config):
            print(json.dumps(item_to_json(item), separators=(",", ":")))
        return 0
    summary = run_fleet(config, _run_options(args))
    print(json.dumps(summary.to_dict()) if args.json else summary.render())
    return 0


def _verify(args: argparse.Namespace) -> int:
    if not args.no_db and not args.dsn:
        print("verify: required setting not set: SENSEGATE_DB__DSN (or --dsn, or --no-db)", file=sys.stderr)
        return 2
    options = VerifyOptions(
        bootstrap=None if args.no_kafka else args.bootstrap,
        topic_prefix=args.topic_prefix,
        dsn=None if args.no_db else args.dsn,
        schema=args.schema,
        exclusive=args.exclusive,
        timeout_s=args.timeout,
    )
    report = verify(args.log, options)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one sub-command; returns the exit code."""
    parser = build_parser()
    args = parse_command(parser, argv)
    if args is None:
        return 2
    try:
        if args.command in _FLEET_COMMANDS:
            return _fleet(args)
        if args.command == "replay":
            args.save = args.save if hasattr(args, "save") else None
            summary = replay_file(args.file, _run_options(args))
            print(json.dumps(summary.to_dict()) if args.json else summary.render())
            return 0
        if args.command == "record":
            filters = tuple(args.topic) if args.topic else DEFAULT_FILTERS
            count = asyncio.run(
                record(
                    args.file,
                    args.host,
                    args.port,
                    username=args.username,
                    password=args.password,
                    filters=filters,
                    duration_s=args.duration,
                    max_messages=args.messages,
                )
            )
            print(f"recorded {count} messages to {args.file}")
            return 0
        if args.command == "verify":
            return _verify(args)
        if args.command == "registry-csv":
            config = FleetConfig(
                families=tuple(f.strip() for f in args.families.split(",") if f.strip()),
                devices=args.devices,
                seed=args.seed,
                options=_options(args),
            )
            sys.stdout.write(registry_csv(config))
            return 0
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3 if exc.retriable else 2
    parser.print_help()
    return 2
