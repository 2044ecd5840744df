"""Device registry: who may send what, as code (registry/devices.yaml) and in PostgreSQL.

Usage: ``async with DeviceRegistry.from_file(db=DbConfig()) as reg: reg.lookup("agri", dev_eui)``.
"""

from __future__ import annotations

from processors.registry.models import CSV_HEADER, Device, device_id_problem
from processors.registry.registry import DeviceRegistry
from processors.registry.store import (
    DEFAULT_DEVICES_FILE,
    delete_device,
    fetch_devices,
    load_devices_yaml,
    parse_devices_csv,
    upsert_devices,
)
from processors.registry.validation import device_problems, industrial_id_problem

__all__ = [
    "CSV_HEADER",
    "DEFAULT_DEVICES_FILE",
    "Device",
    "DeviceRegistry",
    "delete_device",
    "device_id_problem",
    "device_problems",
    "fetch_devices",
    "industrial_id_problem",
    "load_devices_yaml",
    "parse_devices_csv",
    "upsert_devices",
]
