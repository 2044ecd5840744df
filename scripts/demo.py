"""The `make demo` run: register catalog and fleet, simulate all three families for a minute, summarize."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("SENSEGATE_STATE", ROOT / ".state"))
PY = sys.executable


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


def _run(title: str, args: list[str], *, capture: bool = False, check: bool = True) -> str:
    """Run one sensegate command, echoing it under a heading."""
    print(f"\n== {title}\n$ {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [PY, *args], cwd=ROOT, env=_env(), text=True, capture_output=capture, check=False
    )
    if capture:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr[-4000:])
    if check and proc.returncode != 0:
        msg = f"{title} failed with exit code {proc.returncode}"
        raise SystemExit(msg)
    return proc.stdout if capture else ""


def _stored_rows(dsn: str) -> int:
    """Rows in the provenance table (one per stored raw message)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM sensegate.provenance").fetchone()
    return int(row[0]) if row else 0


def _wait_quiet(dsn: str, quiet_s: float, limit_s: float) -> None:
    """Wait until the stored row count has not changed for quiet_s seconds (at most limit_s)."""
    print(f"\n== waiting for the pipeline to drain (row count unchanged for {quiet_s:.0f} s)", flush=True)
    deadline = time.monotonic() + limit_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = _stored_rows(dsn)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(1)
    print(f"provenance rows: {last}")


def _show_provenance(dsn: str) -> str | None:
    """Print one provenance record with a data row that references it; return that record id."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("SELECT * FROM sensegate.provenance ORDER BY random() LIMIT 1")
        row = cur.fetchone()
        if row is None:
            print("no provenance rows yet")
            return None
        names = [d.name for d in cur.description or ()]
        record = dict(zip(names, row, strict=True))
    print(json.dumps(record, indent=2, default=str, ensure_ascii=False))
    record_id = record.get("record_id")
    return str(record_id) if record_id else None


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the oracle's exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of simulated traffic")
    parser.add_argument("--devices", type=int, default=30)
    parser.add_argument("--rate", type=float, default=150.0, help="offered messages/s (all families)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    env = _env()
    dsn = env["SENSEGATE_DB__DSN"]
    run_dir = STATE / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log = run_dir / f"oracle-{stamp}.jsonl"
    fleet_csv = run_dir / "fleet.csv"

    _run("register the public data catalog", ["-m", "processors", "catalog", "register"])
    fleet = _run(
        "the simulated fleet as device-registry CSV",
        ["-m", "simulators", "registry-csv", "--devices", str(args.devices), "--seed", str(args.seed)],
        capture=True,
    )
    fleet_csv.write_text(fleet)
    _run("register the fleet in the device registry", ["-m", "processors", "devices", "import", str(fleet_csv)])
    time.sleep(6)  # the running normalizer picks the registry change up through NOTIFY/polling

    faults = "duplicate=0.02,malformed=0.01,oversized=0.005,unknown-device=0.01,future=0.005"
    _run(
        f"simulate {args.devices} devices of all three families for {args.duration:.0f} s",
        ["-m", "simulators", "mixed", "--devices", str(args.devices), "--rate", str(args.rate),
         "--duration", str(args.duration), "--seed", str(args.seed), "--faults", faults,
         "--log", str(log), "--no-progress"],
    )
    _wait_quiet(dsn, quiet_s=10, limit_s=120)

    print("\n" + "=" * 78 + "\nSUMMARY\n" + "=" * 78)
    _run("messages published / acknowledged / stored per dataset (counting oracle)",
         ["-m", "simulators", "verify", "--log", str(log)], check=False)
    _run("dead letters by reason", ["-m", "processors", "dlq", "stats"], check=False)
    print("\n== one provenance record")
    record_id = _show_provenance(dsn)
    if record_id:
        _run("its inclusion proof", ["-m", "processors", "provenance", "prove", record_id], check=False)
    _run("the public data catalog", ["-m", "processors", "catalog", "list"])
    print(f"\noracle log: {log}\nservices: make stack-status; logs in {STATE / 'services'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
