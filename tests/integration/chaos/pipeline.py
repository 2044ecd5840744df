"""The whole pipeline as child processes on private brokers, for the chaos test.

Each service runs as ``python -m ...`` with its settings in the environment, exactly as
``stack/services.sh`` starts it; the test plays the supervisor (a killed service is started again
after a short pause, as supervisord would). Logs go to the test's temporary directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Service:
    """One service process: its name, module arguments and environment."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start (again); output appended to ``<log_dir>/<name>.log``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")}
        env.update(self.env)
        env["PYTHONPATH"] = str(ROOT)
        with (self.log_dir / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *self.args], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.starts += 1

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the running process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill9_and_restart(self, pause_s: float = 2.0) -> None:
        """``kill -9``, wait ``pause_s``, start again."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)
        time.sleep(pause_s)
        self.start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Schedule:
    """The fault schedule as run: (seconds since start, what) lines."""

    t0: float = field(default_factory=time.monotonic)
    done: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        """Record that ``what`` happened now."""
        self.done.append((time.monotonic() - self.t0, what))

    def render(self) -> str:
        """One line per event."""
        return "\n".join(f"  t={t:6.1f}s  {what}" for t, what in self.done)


def run_cli(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run a sensegate command to completion; its stdout (fails loudly with its stderr)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=full, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        msg = f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return proc.stdout
