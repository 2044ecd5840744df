"""Agricultural LoRaWAN fleet behind a ChirpStack v4 application: soil probes and weather stations."""

from __future__ import annotations

from simulators.agri.fleet import AGRI_DATASETS, LPP_CHANNELS, AgriFleet

__all__ = ["AGRI_DATASETS", "LPP_CHANNELS", "AgriFleet"]
