"""Industrial fleet: Sparkplug B 3.0 edge nodes with devices, births, data, deaths and rebirths."""

from __future__ import annotations

from simulators.iiot.fleet import IIOT_DATASET, IiotFleet

__all__ = ["IIOT_DATASET", "IiotFleet"]
