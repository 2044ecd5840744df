"""Roadside-unit fleet: signalized intersections, moving traffic, and the C-V2X messages about them."""

from __future__ import annotations

from simulators.v2x.fleet import V2X_DATASETS, V2xFleet

__all__ = ["V2X_DATASETS", "V2xFleet"]
