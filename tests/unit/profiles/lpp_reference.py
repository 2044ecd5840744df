"""An LPP encoder written for the tests from the Cayenne LPP type table, independent of the codec.

Each entry: LPP type id, bytes, resolution multiplier and signedness, as the Cayenne LPP
specification lists them. The tests build uplinks with this so that a mistake shared by the
project's encoder and decoder cannot hide.
"""

from __future__ import annotations

import struct

__all__ = ["TYPES", "frame"]

# name: (type id, struct format of the big-endian value, multiplier)
TYPES: dict[str, tuple[int, str, float]] = {
    "digital_input": (0, ">B", 1),
    "analog_input": (2, ">h", 100),
    "illuminance": (101, ">H", 1),
    "temperature": (103, ">h", 10),
    "humidity": (104, ">B", 2),
    "barometric_pressure": (115, ">H", 10),
    "voltage": (116, ">H", 100),
    "generic_sensor": (100, ">I", 1),
}


def frame(*readings: tuple[int, str, float]) -> bytes:
    """LPP bytes for ``(channel, type name, value)`` readings, in order."""
    out = b""
    for channel, name, value in readings:
        type_id, fmt, mult = TYPES[name]
        out += bytes((channel, type_id)) + struct.pack(fmt, round(value * mult))
    return out
