"""Sampling profiles of the pipeline's processes during a phase, with py-spy (``--profile``).

py-spy reads the target's stacks from outside (ptrace), so the stage runs unmodified;
``--nonblocking`` does not pause it between samples. Each process's samples are written as
collapsed stacks; the summary is the share of samples per leaf function (self time) and per
function anywhere on the stack (inclusive time), the largest first.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Sampler", "available", "summarize"]

_RATE_HZ = 100  # samples per second: enough for shares of a few percent over tens of seconds


def _exe() -> str | None:
    """py-spy next to this interpreter (the venv's ``bench`` extra), else on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def available() -> bool:
    """True when the py-spy executable is found (the ``bench`` extra installs it)."""
    return _exe() is not None


@dataclass
class Sampler:
    """One py-spy recorder attached to one process."""

    name: str
    pid: int
    out: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Attach and start sampling."""
        exe = _exe() or "py-spy"
        self.popen = subprocess.Popen(
            [exe, "record", "--pid", str(self.pid), "--rate", str(_RATE_HZ), "--nonblocking",
             "--format", "raw", "--output", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop sampling (SIGINT makes py-spy write its file) and wait for it."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)


def _function(frame: str) -> str:
    """``name (path/to/module.py:line)`` -> ``name (module.py)``: lines of one function merged."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({'/'.join(file.split('/')[-2:])})" if file else name


def summarize(path: Path, top: int = 12) -> dict[str, Any]:
    """Samples, and the top functions by self and by inclusive share, from a collapsed-stack file."""
    self_n: Counter[str] = Counter()
    incl_n: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"samples": 0, "self": [], "inclusive": []}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_function(f) for f in stack.split(";")]
        total += n
        self_n[frames[-1]] += n
        for fn in set(frames):
            incl_n[fn] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(fn, round(c / total, 4)) for fn, c in counter.most_common(top)] if total else []

    return {"samples": total, "self": share(self_n), "inclusive": share(incl_n)}
