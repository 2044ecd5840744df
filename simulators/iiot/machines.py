"""Machines behind the edge nodes: a hydraulic press and a motor drive with run/idle cycles.

Each machine is a small state model advanced by elapsed simulated time: it switches between running
and idle with random dwell times; temperatures approach their running or ambient level with a time
constant; counters only grow. ``metrics()`` returns (name, datatype code, value) triples.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["Machine", "make_machine"]

# Sparkplug datatype codes (docs/codecs-sparkplug-lorawan.md, datatype codes)
INT64, FLOAT, DOUBLE, BOOLEAN, STRING = 4, 9, 10, 11, 12


@dataclass
class Machine:
    """One device under an edge node (mutable; advanced by its node)."""

    name: str
    kind: str  # "press" or "drive"
    rng: random.Random
    t_ms: int
    running: bool = True
    next_switch_ms: int = 0
    temperature: float = 22.0
    counter: float = 0.0
    values: dict[str, object] = field(default_factory=dict)

    def advance_to(self, t_ms: int) -> None:
        """Advance the state to ``t_ms``."""
        dt = max(0.0, (t_ms - self.t_ms) / 1000)
        self.t_ms = t_ms
        if t_ms >= self.next_switch_ms:
            self.running = not self.running
            dwell = self.rng.uniform(120, 900) if self.running else self.rng.uniform(30, 240)
            self.next_switch_ms = t_ms + int(dwell * 1000)
        target = (55.0 if self.kind == "press" else 68.0) if self.running else 22.0
        self.temperature += (target - self.temperature) * (1 - math.exp(-dt / 300.0))
        if self.running:
            self.counter += dt * (0.5 if self.kind == "press" else 1480 / 60)

    def metrics(self) -> list[tuple[str, int, object]]:
        """Current metric values."""
        g = self.rng.gauss
        run = self.running
        if self.kind == "press":
            return [
                ("Hydraulic/OilTemp", DOUBLE, round(self.temperature + g(0, 0.2), 2)),
                ("Hydraulic/Pressure", DOUBLE, round((182.0 if run else 6.0) + g(0, 1.5), 1)),
                ("Press/StrokeCount", INT64, int(self.counter)),
                ("Press/Running", BOOLEAN, run),
                ("Press/Mode", STRING, "AUTO" if run else "IDLE"),
            ]
        return [
            ("Motor/Speed", FLOAT, round((1480.0 if run else 0.0) + (g(0, 4) if run else 0.0), 1)),
            ("Motor/Current", DOUBLE, round((12.5 if run else 0.4) + g(0, 0.3), 2)),
            ("Motor/Temperature", DOUBLE, round(self.temperature + g(0, 0.3), 2)),
            ("Vibration/RMS", FLOAT, round(max(0.0, (2.1 if run else 0.1) + g(0, 0.15)), 2)),
        ]


def make_machine(name: str, kind: str, rng: random.Random, t_ms: int) -> Machine:
    """A machine in a random phase of its run/idle cycle."""
    machine = Machine(name, kind, rng, t_ms)
    machine.running = rng.random() < 0.7
    machine.next_switch_ms = t_ms + int(rng.uniform(10, 300) * 1000)
    machine.temperature = rng.uniform(30, 50) if machine.running else 22.0
    machine.counter = float(rng.randrange(10_000, 500_000))
    return machine
