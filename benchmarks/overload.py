"""Overload: a private in-memory Mosquitto and C-client publishers offering ~10x the saturation rate.

Why a private broker: under overload the broker queues the backlog for the gateway's session. The
shared broker snapshots its whole store after every 100 changes (persistence: docs/reliability.md W2),
so a backlog of hundreds of megabytes there would stall every other user of the stack. The private
broker (no persistence, loopback, free port) is started and stopped by the harness.

Why C clients: a Python publisher cannot offer ten times what the Python pipeline sustains on the
same two cores. ``mosquitto_pub -l`` sends one message per line, so the payloads are the fleet's
ChirpStack uplinks (single-line JSON), each given a fresh ``deduplicationId`` so that every one is
a distinct record rather than a duplicate the normalizer would drop.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from simulators.model import SimItem, SimMessage

__all__ = ["Blaster", "PrivateBroker", "agri_templates"]


class PrivateBroker:
    """A throw-away Mosquitto on a free loopback port (no persistence)."""

    def __init__(self, port: int, work: Path) -> None:
        self.port = port
        self.work = work
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Write the config, start the broker and wait until it accepts connections."""
        conf = self.work / "mosquitto-overload.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 3000000\nmax_queued_bytes 4294967296\nmax_inflight_messages 0\n"
            "max_packet_size 2097152\nlog_dest none\n"
        )
        self.popen = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", "bench/probe",
                 "-m", "x"], capture_output=True, timeout=5, check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        msg = f"private mosquitto on port {self.port} did not start"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Terminate the broker (idempotent)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self.popen = None


def agri_templates(items: list[SimItem], limit: int = 4) -> list[tuple[str, str, str]]:
    """(topic, payload text, deduplicationId) of up to ``limit`` distinct ChirpStack devices."""
    out: dict[str, tuple[str, str, str]] = {}
    for item in items:
        if not isinstance(item, SimMessage) or item.family != "agri" or item.expect != "data":
            continue
        text = item.payload.decode("utf-8", "replace")
        marker = '"deduplicationId":"'
        at = text.find(marker)
        if at < 0 or "\n" in text or item.topic in out:
            continue
        dedup = text[at + len(marker) : at + len(marker) + 36]
        out[item.topic] = (item.topic, text, dedup)
        if len(out) >= limit:
            break
    return list(out.values())


@dataclass
class _Lane:
    topic: str
    text: str
    dedup: str
    proc: subprocess.Popen[bytes] | None = None
    chunk: Path | None = None
    handle: BinaryIO | None = None
    lines: int = 0


@dataclass
class Blaster:
    """Paced C-client publishers: each lane sends one second's share per launch, QoS 1."""

    port: int
    templates: list[tuple[str, str, str]]
    rate: float
    work: Path
    sent: int = 0
    launched: int = 0
    skipped: int = 0
    _lanes: list[_Lane] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lanes = [_Lane(t, p, d) for t, p, d in self.templates]

    def tick(self) -> None:
        """Called about once a second: relaunch every lane whose previous chunk has finished."""
        per_lane = max(1, int(self.rate / max(1, len(self._lanes))))
        for i, lane in enumerate(self._lanes):
            if lane.proc is not None:
                if lane.proc.poll() is None:
                    self.skipped += 1  # the C client could not keep this lane's pace
                    continue
                self._reap(lane)
            chunk = self.work / f"blast-{i}-{self.launched}.txt"
            with chunk.open("w") as fh:
                for _ in range(per_lane):
                    fh.write(lane.text.replace(lane.dedup, str(uuid.uuid4())))
                    fh.write("\n")
            lane.chunk, lane.lines = chunk, per_lane
            lane.handle = chunk.open("rb")
            lane.proc = subprocess.Popen(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", lane.topic,
                 "-q", "1", "-l", "-i", f"bench-blast-{i}-{uuid.uuid4().hex[:6]}"],
                stdin=lane.handle, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            self.launched += 1

    def _reap(self, lane: _Lane) -> None:
        if lane.proc is not None and lane.proc.returncode == 0:
            self.sent += lane.lines
        if lane.handle is not None:
            lane.handle.close()
        if lane.chunk is not None:
            with contextlib.suppress(OSError):
                lane.chunk.unlink()
        lane.proc, lane.chunk, lane.handle = None, None, None

    def stop(self) -> None:
        """Wait briefly for running chunks, then kill what is left."""
        deadline = time.monotonic() + 5
        for lane in self._lanes:
            if lane.proc is None:
                continue
            try:
                lane.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                lane.proc.kill()
                lane.proc.wait(timeout=5)
            self._reap(lane)
