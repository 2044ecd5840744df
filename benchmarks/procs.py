"""The harness's own gateway/normalize/sink subprocesses: start, readiness, /proc sampling, cleanup.

Every process is a child of the harness in its own process group, bound to loopback, with a topic
prefix, consumer group, client id and metrics port unique to the run. ``ServiceSet.close`` (also
called from ``atexit`` and on SIGINT/SIGTERM through the orchestrator) terminates each child by
its own pid, then kills it after a grace period.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ProcSample", "Service", "ServiceSet", "free_port", "read_proc"]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A currently free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds (user + system) and resident set size of one process at one instant."""

    t: float
    cpu_s: float
    rss_bytes: int


def read_proc(pid: int) -> ProcSample | None:
    """CPU time and RSS of ``pid`` from /proc; None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return None
    # the command name may contain spaces: fields start after the closing parenthesis
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    rss = int(statm.split()[1]) * _PAGE
    return ProcSample(time.monotonic(), cpu, rss)


@dataclass
class Service:
    """One started subprocess and its samples."""

    name: str
    popen: subprocess.Popen[bytes]
    metrics_port: int
    log_path: Path
    samples: list[ProcSample] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """Process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def sample(self) -> ProcSample | None:
        """Record and return one /proc sample."""
        s = read_proc(self.pid)
        if s is not None:
            self.samples.append(s)
        return s

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the process's combined output (for error reports)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ServiceSet:
    """Starts and tracks the harness's pipeline processes; ``close`` ends them all."""

    def __init__(self, base_env: dict[str, str], log_dir: Path) -> None:
        self.base_env = base_env
        self.log_dir = log_dir
        self.services: dict[str, Service] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        """Start ``python <argv>`` with the base environment plus ``env`` and a free metrics port."""
        port = free_port()
        full = {**os.environ, **self.base_env, **env, "SENSEGATE_METRICS__HOST": "127.0.0.1",
                "SENSEGATE_METRICS__PORT": str(port)}
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, *argv], cwd=REPO, env=full, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, popen, port, log_path)
        self.services[name] = service
        return service

    def wait_ready(
        self,
        names: list[str],
        timeout_s: float = 60.0,
        fallback: Mapping[str, Callable[[], bool]] | None = None,
    ) -> list[str]:
        """Wait until each named service answers /readyz with 200 (or its ``fallback`` check passes).

        Returns the names that did not become ready. The fallback covers a service that serves no
        health endpoint (yet): e.g. the sink is ready once its migrations created its tables.
        """
        fallback = fallback or {}
        deadline = time.monotonic() + timeout_s
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                svc = self.services[name]
                if not svc.alive():
                    logger.error("%s exited with %s:\n%s", name, svc.popen.returncode, svc.log_tail())
                    pending.discard(name)
                    continue
                check = fallback.get(name)
                if _ready(svc.metrics_port) or (check is not None and check()):
                    pending.discard(name)
                    svc.sample()
            time.sleep(0.2)
        failed = [n for n in names if n in pending or not self.services[n].alive()]
        return failed

    def stop(self, name: str, grace_s: float = 10.0) -> None:
        """Terminate one service (SIGTERM, then SIGKILL after ``grace_s``)."""
        svc = self.services.pop(name, None)
        if svc is None or not svc.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            svc.popen.send_signal(signal.SIGTERM)
        try:
            svc.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                svc.popen.kill()
            svc.popen.wait(timeout=5)

    def close(self) -> None:
        """Stop every service this set started (idempotent)."""
        for name in list(self.services):
            self.stop(name, grace_s=5.0)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
