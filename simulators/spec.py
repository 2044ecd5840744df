"""Run parameters shared by every fleet, the fleet contract, the tick schedule and the fault roller."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from simulators.exceptions import ConfigError
from simulators.model import SimItem
from simulators.registry_csv import DeviceRow

__all__ = ["FaultRoller", "Fleet", "FleetSpec", "family_rng", "ticks"]


@dataclass(frozen=True)
class FleetSpec:
    """What one family's fleet should generate: devices, offered rate, length and seed.

    ``rate`` is messages per second for the whole family (spread round-robin over its devices);
    the run ends at ``duration_s`` of simulated time or after ``max_messages`` ticks.
    """

    devices: int
    rate: float
    duration_s: float
    seed: int
    start_ms: int
    max_messages: int | None = None
    faults: Mapping[str, float] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.devices < 1:
            msg = f"devices must be >= 1, got {self.devices}"
            raise ConfigError(msg)
        if self.rate <= 0:
            msg = f"rate must be > 0 messages/s, got {self.rate}"
            raise ConfigError(msg)
        if self.duration_s <= 0 and not self.max_messages:
            msg = "give a positive duration or a message count"
            raise ConfigError(msg)


class Fleet(Protocol):
    """One family's simulated fleet, named by its ``DeviceFamily.fleet`` and built from a FleetSpec.

    Deterministic for a fixed spec; not thread-safe (one run uses it from one thread).
    """

    family: str

    def registry(self) -> list[DeviceRow]:
        """The fleet's devices as registry rows."""
        ...

    def messages(self) -> Iterator[SimItem]:
        """The run's items in time order (the schedule follows the spec)."""
        ...


def family_rng(seed: int, family: str, purpose: str = "world") -> random.Random:
    """Independent deterministic random stream per (seed, family, purpose)."""
    digest = hashlib.sha256(f"{seed}|{family}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def ticks(spec: FleetSpec) -> Iterator[tuple[int, int, int]]:
    """Yield ``(index, t_ms, device_index)`` round-robin at ``spec.rate`` messages per second."""
    end_ms = spec.start_ms + int(spec.duration_s * 1000) if spec.duration_s > 0 else None
    index = 0
    while spec.max_messages is None or index < spec.max_messages:
        t_ms = spec.start_ms + round(index * 1000 / spec.rate)
        if end_ms is not None and t_ms >= end_ms:
            return
        yield index, t_ms, index % spec.devices
        index += 1


class FaultRoller:
    """Decides, deterministically from the seed, which generated messages get which fault."""

    def __init__(self, faults: Mapping[str, float], seed: int, family: str) -> None:
        self._faults = dict(faults)
        self._rng = family_rng(seed, family, "faults")

    def roll(self, name: str) -> bool:
        """True with the configured probability of fault ``name`` (never when not configured)."""
        rate = self._faults.get(name, 0.0)
        # always draw, so enabling one fault does not shift the choices of another
        draw = self._rng.random()
        return rate > 0 and draw < rate

    def choice(self, n: int) -> int:
        """A deterministic index in ``range(n)``."""
        return self._rng.randrange(n)
