"""Agricultural LoRaWAN fleet behind a ChirpStack v4 application: soil probes and weather stations."""

from __future__ import annotations

from simulators.agri.fleet import AGRI_DATASETS, AgriFleet
from simulators.agri.layouts import LAYOUTS

__all__ = ["AGRI_DATASETS", "LAYOUTS", "AgriFleet"]
