"""Progress display on stderr: one line per phase, and a live status line (throttled off a terminal)."""

from __future__ import annotations

import sys
import time
from typing import IO

__all__ = ["Progress"]


class Progress:
    """Phase headers and a rewritten status line; plain lines every 5 s when stderr is not a TTY."""

    def __init__(self, stream: IO[str] = sys.stderr, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self.t0 = time.monotonic()
        self._last = 0.0
        self._open = False

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.t0:6.1f}s]"

    def phase(self, text: str) -> None:
        """Announce a new phase."""
        if not self.enabled:
            return
        self._end_status()
        self.stream.write(f"{self._stamp()} {text}\n")
        self.stream.flush()

    def status(self, text: str) -> None:
        """Update the live status line."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < (0.3 if self.tty else 5.0):
            return
        self._last = now
        if self.tty:
            self.stream.write(f"\r\x1b[K{self._stamp()}   {text}")
            self._open = True
        else:
            self.stream.write(f"{self._stamp()}   {text}\n")
        self.stream.flush()

    def _end_status(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False
