"""CPU time of the stack's own processes (Mosquitto, Kafka, PostgreSQL) during a benchmark phase.

The pipeline shares the machine's cores with these three; their CPU per message shows how much of
the machine is left for sensegate. Processes are found through the pid files ``stack/stack.sh``
writes under the state directory. PostgreSQL counts the postmaster with its reaped children
(cutime/cstime) and its live backends, so a backend's CPU stays counted after it exits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["infra_cpu_s", "infra_pids", "infra_rows"]

REPO = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
_PID_FILES = {
    "mosquitto": Path("mosquitto/mosquitto.pid"),
    "kafka": Path("kafka/kafka.pid"),
    "postgresql": Path("postgres/data/postmaster.pid"),
}


def infra_pids(state: Path | None = None) -> dict[str, int]:
    """Pid of each running stack process that has a pid file (missing ones are left out)."""
    root = state or Path(os.environ.get("SENSEGATE_STATE", REPO / ".state"))
    out: dict[str, int] = {}
    for name, rel in _PID_FILES.items():
        try:
            pid = int((root / rel).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if Path(f"/proc/{pid}").exists():
            out[name] = pid
    return out


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                kids.append(int(entry.name))
    return kids


def infra_cpu_s(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process, PostgreSQL with its backends."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        fields = _stat(pid)
        if fields is None:
            continue
        ticks = int(fields[11]) + int(fields[12])
        if name == "postgresql":
            ticks += int(fields[13]) + int(fields[14])  # children it has reaped
            for kid in _children(pid):
                kf = _stat(kid)
                if kf is not None:
                    ticks += int(kf[11]) + int(kf[12])
        out[name] = ticks / _TICK
    return out


def infra_rows(before: dict[str, float], after: dict[str, float], wall: float, messages: int) -> list[dict[str, Any]]:
    """CPU rows (as the pipeline's) of each stack process and of all of them, per message."""
    rows: list[dict[str, Any]] = []
    for name in sorted(set(before) & set(after)):
        cpu = after[name] - before[name]
        rows.append({"process": f"infrastructure: {name}", "cpu_s": round(cpu, 3),
                     "cpu_ms_per_message": round(cpu * 1000 / max(1, messages), 4),
                     "cores_busy": round(cpu / max(1e-6, wall), 3)})
    if rows:
        total = sum(r["cpu_s"] for r in rows)
        rows.append({"process": "infrastructure (all)", "cpu_s": round(total, 3),
                     "cpu_ms_per_message": round(total * 1000 / max(1, messages), 4),
                     "cores_busy": round(total / max(1e-6, wall), 3)})
    return rows
