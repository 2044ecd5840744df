"""The `make demo` run: register catalog and fleet, simulate all families a minute, summarize, object."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg import sql

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from runtime.kafka_client import config_for
from scripts import demo_objection
from scripts.demo_catalog import show_catalog_governance
from scripts.demo_flows import show_flows

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("SENSEGATE_STATE", ROOT / ".state"))
PY = sys.executable
STACK_SHARE_MAX_DELAY_S = 60  # what stack/services.sh gives the share service


def _env() -> dict[str, str]:
    """The process environment plus the stack addresses written by stack/stack.sh."""
    env = dict(os.environ)
    stack_env = STATE / "stack.env"
    if stack_env.exists():
        for line in stack_env.read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                env.setdefault(key, value)
    return env


def _run(
    title: str,
    args: list[str],
    *,
    capture: bool = False,
    check: bool = True,
    extra_env: dict[str, str] | None = None,
    quiet: bool = False,
) -> str:
    """Run one sensegate command, echoing it under a heading (``quiet``: not its output)."""
    print(f"\n== {title}\n$ {' '.join(args)}", flush=True)
    proc = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [PY, *args], cwd=ROOT, env={**_env(), **(extra_env or {})}, text=True,
        capture_output=capture, check=False,
    )  # fmt: skip
    if capture and not quiet:
        lines = proc.stdout.splitlines()
        shown = lines if len(lines) <= 12 else [*lines[:6], f"... ({len(lines) - 6} more lines)"]
        print("\n".join(shown))
        sys.stderr.write(proc.stderr[-4000:])
    if check and proc.returncode != 0:
        msg = f"{title} failed with exit code {proc.returncode}"
        raise SystemExit(msg)
    return proc.stdout if capture else ""


async def _lag(kafka: KafkaConfig, dsn: str) -> tuple[int, int]:
    """Messages not yet processed: (normalize lag on the raw topics, sink lag on the data topics)."""
    prefix = kafka.topic_prefix
    consumer = AIOKafkaConsumer(**kafka.client_kwargs())
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await consumer.start()
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        # Partitions from a metadata request of the admin: an unsubscribed consumer's cache has
        # none for these topics, which once made every lag read as zero.
        parts = [
            TopicPartition(d["topic"], p["partition"])
            for d in await admin.describe_topics(topics)
            for p in d["partitions"]
        ]
        raw_parts = [tp for tp in parts if tp.topic.startswith(f"{prefix}raw.")]
        if not raw_parts:
            msg = "no raw topic partitions found: cannot measure the lag"
            raise RuntimeError(msg)
        ends = await consumer.end_offsets(parts)
        committed = await admin.list_consumer_group_offsets("sensegate-normalize")
    finally:
        await admin.close()
        await consumer.stop()
    normalize_lag = sum(
        ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in raw_parts
    )
    with psycopg.connect(dsn) as conn:
        stored = {
            (t, p): o
            for t, p, o in conn.execute(
                "SELECT topic, partition, next_offset FROM sensegate.ingest_offset "
                "WHERE group_id = 'sensegate-sink'"
            ).fetchall()
        }
    data = [tp for tp in parts if tp.topic.startswith(f"{prefix}data.")]
    sink_lag = sum(ends[tp] - stored.get((tp.topic, tp.partition), 0) for tp in data)
    return normalize_lag, sink_lag


def _kafka() -> KafkaConfig:
    """The operator's SCRAM login to the stack's Kafka (there is no anonymous listener)."""
    return config_for(_env()["SENSEGATE_KAFKA__BOOTSTRAP_SERVERS"])


def _wait_drained(dsn: str, limit_s: float) -> None:
    """Wait until normalize and sink have caught up with everything published (at most limit_s)."""
    print("\n== waiting for normalize and sink to catch up", flush=True)
    kafka = _kafka()
    deadline = time.monotonic() + limit_s
    zero_since: float | None = None
    while time.monotonic() < deadline:
        normalize_lag, sink_lag = asyncio.run(_lag(kafka, dsn))
        print(f"  lag: normalize {normalize_lag}, sink {sink_lag}", flush=True)
        if normalize_lag <= 0 and sink_lag <= 0:
            # Zero twice in a row, a few seconds apart: the last batch is committed, not in flight.
            if zero_since is not None and time.monotonic() - zero_since >= 3:
                return
            zero_since = zero_since or time.monotonic()
        else:
            zero_since = None
        time.sleep(2)
    print(f"  still lagging after {limit_s:.0f} s; the summary shows what has arrived so far")


def _show_provenance(dsn: str) -> str | None:
    """Print one provenance record and the data row that references it; return its record id."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("SELECT * FROM sensegate.provenance ORDER BY random() LIMIT 1")
        row = cur.fetchone()
        if row is None:
            print("no provenance rows yet")
            return None
        names = [d.name for d in cur.description or ()]
        record = dict(zip(names, row, strict=True))
        entry = load_catalog().get(str(record["catalog_code"]))
        data = None
        if entry is not None:
            data = conn.execute(
                sql.SQL(
                    "SELECT record_id FROM sensegate.{} WHERE provenance_id = %s LIMIT 1"
                ).format(sql.Identifier(entry.storage_table)),
                (record["provenance_id"],),
            ).fetchone()
    print(json.dumps(record, indent=2, default=str, ensure_ascii=False))
    if data is None:
        return None
    print(f"referenced by {record['catalog_code']} row with record_id {data[0]}")
    return str(data[0])


def _objections_cli(
    title: str, args: list[str], *, capture: bool = False, token: str | None = None,
    quiet: bool = False,
) -> str:
    """``python -m processors ARGS`` for the objection walk, as the unit holding ``token``.

    The CLI runs with the objection service's own env file (its database role and Kafka
    principal, the signing and share keys), as a provider's operator would run it.
    """
    from stack.credentials import read_env_file

    extra = read_env_file(STATE / "secrets" / "env" / "objections.env")
    if token:
        extra["SENSEGATE_OBJECTIONS__TOKEN"] = token
    return _run(
        title, ["-m", "processors", "--log-level", "WARNING", *args], capture=capture,
        extra_env=extra, quiet=quiet,
    )  # fmt: skip


def _lorawan_application(devices: int, seed: int) -> str:
    """The application id under which the simulated network server publishes the agri fleet."""
    from simulators.agri import AgriFleet
    from simulators.api import FleetConfig, build_fleets

    fleets = build_fleets(FleetConfig(devices=devices, seed=seed), 0)
    return next(f.application_id for f in fleets if isinstance(f, AgriFleet))


def _merge_credentials(book: Path, issued: Path) -> Path:
    """Fold newly issued logins into the demo's credentials book (mode 0600); returns its path."""
    logins: dict[str, dict[str, object]] = {}
    for path in (book, issued):
        if path.exists():
            for ident in json.loads(path.read_text(encoding="utf-8"))["identities"]:
                logins[ident["username"]] = ident
    if not logins:
        msg = (
            "the fleet's devices already hold broker credentials but no credentials book is in "
            f"{book.parent}; run 'make clean' (or rotate them with "
            "'python -m processors devices rotate-credentials') and run the demo again"
        )
        raise SystemExit(msg)
    tmp = book.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"identities": list(logins.values())}, fh, indent=2)
    tmp.replace(book)
    issued.unlink(missing_ok=True)
    return book


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the oracle's exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of simulated traffic")
    parser.add_argument("--devices", type=int, default=30)
    parser.add_argument(
        "--rate", type=float, default=150.0, help="offered messages/s (all families)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    env = _env()
    dsn = env["SENSEGATE_DB__DSN"]
    run_dir = STATE / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log = run_dir / f"oracle-{stamp}.jsonl"
    fleet_csv = run_dir / "fleet.csv"

    _run(
        "register the public data catalog",
        ["-m", "processors", "--log-level", "WARNING", "catalog", "register"],
    )
    _run(
        "register the device profiles (each probe model's layout and units)",
        ["-m", "processors", "--log-level", "WARNING", "profiles", "register", "--no-write-back"],
    )
    fleet = _run(
        "the simulated fleet as device-registry CSV (each device bound to its profile)",
        [
            "-m",
            "simulators",
            "registry-csv",
            "--devices",
            str(args.devices),
            "--seed",
            str(args.seed),
        ],
        capture=True,
    )
    fleet_csv.write_text(fleet)
    # The broker refuses anonymous clients: registering the fleet issues one credential per
    # RSU, per LoRaWAN network-server application and per Sparkplug edge node (shown once,
    # written 0600); the simulators then publish each device's data with its own identity.
    issued = run_dir / f"fleet-credentials-{stamp}.json"
    _run(
        "register the fleet in the device registry and issue its broker credentials",
        [
            "-m",
            "processors",
            "devices",
            "import",
            str(fleet_csv),
            "--lorawan-application",
            _lorawan_application(args.devices, args.seed),
            "--credentials-out",
            str(issued),
        ],
    )
    # A second demo on the same state: identities issued by an earlier run keep their credential
    # (the import issues none for them), so the fleet's logins accumulate in one 0600 file.
    credentials = _merge_credentials(run_dir / "fleet-credentials.json", issued)
    time.sleep(6)  # the running normalizer picks the registry change up through NOTIFY/polling

    faults = "duplicate=0.02,malformed=0.01,oversized=0.005,unknown-device=0.01,future=0.005"
    traffic_start = time.time()
    _run(
        f"simulate {args.devices} devices of all three families for {args.duration:.0f} s",
        [
            "-m",
            "simulators",
            "mixed",
            "--devices",
            str(args.devices),
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--seed",
            str(args.seed),
            "--faults",
            faults,
            "--log",
            str(log),
            "--credentials",
            str(credentials),
            "--no-progress",
        ],
    )
    _wait_drained(dsn, limit_s=300)

    print("\n" + "=" * 78 + "\nSUMMARY\n" + "=" * 78)
    _run(
        "messages published / acknowledged / stored per dataset (counting oracle)",
        ["-m", "simulators", "verify", "--log", str(log)],
        check=False,
    )
    _run(
        "dead letters by reason (whole DLQ, all runs)",
        ["-m", "processors", "--log-level", "WARNING", "dlq", "stats"],
        check=False,
    )
    print("\n== one provenance record")
    record_id = _show_provenance(dsn)
    if record_id:
        _run(
            "its inclusion proof",
            ["-m", "processors", "provenance", "prove", record_id],
            check=False,
        )
    walk_started = time.monotonic()
    objection = demo_objection.run(_objections_cli, dsn, env, STATE)
    # The normalizer flushes device health every 15 s: the objection walk uses part of that wait.
    time.sleep(max(0.0, 16 - (time.monotonic() - walk_started)))
    _run(
        "device health: last seen, completeness, counter gaps, dead letters, clock skew",
        ["-m", "processors", "--log-level", "WARNING", "devices", "health", "--period", "1h"],
        check=False,
    )
    _run("the public data catalog", ["-m", "processors", "catalog", "list"])
    if objection:
        print("\n== one objection (Art. 30), from submission to the consumers' corrected record")
        print("\n".join(f"  {line}" for line in objection))
    show_catalog_governance(_run, run_dir)
    share_env = {k: v for k, v in _env().items() if k.startswith("SENSEGATE_SHARE_")}
    close_delay_s = float(share_env.get("SENSEGATE_SHARE_LATENESS_S", 60)) + float(
        share_env.get("SENSEGATE_SHARE_MAX_DELAY_S", STACK_SHARE_MAX_DELAY_S)
    )
    show_flows(dsn, _kafka(), close_delay_s, traffic_start)
    print(f"\noracle log: {log}\nservices: make stack-status; logs in {STATE / 'services'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
