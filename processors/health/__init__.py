"""Device health per source (Art. 28 completeness and timeliness): counters, store, report, metrics."""

from __future__ import annotations

from processors.health.tracker import HealthDelta, HealthTracker, counter_of, counter_step

__all__ = ["HealthDelta", "HealthTracker", "counter_of", "counter_step"]
