"""Cayenne LPP: decoding with the full (original + extended) type table, and ``encode_lpp``.

Frame: repeated ``[channel u8][type u8][value big-endian]``. An unknown type or a truncated value
fails the whole frame (``LppError``); the decoder never skips ahead by guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from processors.codecs.base import FormatError

__all__ = ["LPP_TYPES", "LppError", "LppReading", "LppType", "decode_lpp", "encode_lpp"]


class LppError(FormatError):
    """The bytes are not a valid Cayenne LPP frame."""


@dataclass(frozen=True, slots=True)
class LppType:
    """One LPP data type: field widths in bytes, divisor, signedness, UCUM unit, component names."""

    type_id: int
    name: str
    widths: tuple[int, ...]
    divisor: tuple[int, ...]
    signed: bool
    unit: str | None
    components: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Total value size in bytes."""
        return sum(self.widths)


def _t(  # noqa: PLR0917 - positional keeps the type table one row per type
    type_id: int,
    name: str,
    widths: tuple[int, ...],
    divisor: int | tuple[int, ...],
    signed: bool,
    unit: str | None,
    components: tuple[str, ...] = (),
) -> LppType:
    divs = divisor if isinstance(divisor, tuple) else (divisor,) * len(widths)
    return LppType(type_id, name, widths, divs, signed, unit, components)


# LPP types (docs/codecs-sparkplug-lorawan.md); 122 "load" as in the extended decoders.
LPP_TYPES: Mapping[int, LppType] = {
    t.type_id: t
    for t in (
        _t(0, "digital_input", (1,), 1, False, "1"),
        _t(1, "digital_output", (1,), 1, False, "1"),
        _t(2, "analog_input", (2,), 100, True, "1"),
        _t(3, "analog_output", (2,), 100, True, "1"),
        _t(100, "generic_sensor", (4,), 1, False, "1"),
        _t(101, "illuminance", (2,), 1, False, "lx"),
        _t(102, "presence", (1,), 1, False, "1"),
        _t(103, "temperature", (2,), 10, True, "Cel"),
        _t(104, "humidity", (1,), 2, False, "%"),
        _t(113, "accelerometer", (2, 2, 2), 1000, True, "[g]", ("x", "y", "z")),
        _t(115, "barometric_pressure", (2,), 10, False, "hPa"),
        _t(116, "voltage", (2,), 100, False, "V"),
        _t(117, "current", (2,), 1000, False, "A"),
        _t(118, "frequency", (4,), 1, False, "Hz"),
        _t(120, "percentage", (1,), 1, False, "%"),
        _t(121, "altitude", (2,), 1, True, "m"),
        _t(122, "load", (3,), 1000, True, "kg"),
        _t(125, "concentration", (2,), 1, False, "[ppm]"),
        _t(128, "power", (2,), 1, False, "W"),
        _t(130, "distance", (4,), 1000, False, "m"),
        _t(131, "energy", (4,), 1000, False, "kW.h"),
        _t(132, "direction", (2,), 1, False, "deg"),
        _t(133, "unix_time", (4,), 1, False, "s"),
        _t(134, "gyrometer", (2, 2, 2), 100, True, "deg/s", ("x", "y", "z")),
        _t(135, "colour", (1, 1, 1), 1, False, None, ("r", "g", "b")),
        _t(136, "gps", (3, 3, 3), (10000, 10000, 100), True, None, ("lat", "lon", "alt")),
        _t(142, "switch", (1,), 1, False, "1"),
    )
}


class LppReading(BaseModel):
    """One decoded LPP value.

    Scalars use ``value``; multi-axis types (accelerometer, gyrometer, colour, GPS) use
    ``components`` (GPS: lat/lon in degrees, alt in metres).
    """

    model_config = ConfigDict(frozen=True)

    channel: int
    type_id: int
    name: str
    unit: str | None
    value: float | None = None
    components: dict[str, float] | None = None


def decode_lpp(data: bytes) -> tuple[LppReading, ...]:
    """Decode a whole LPP frame; raises LppError on an unknown type or a truncated value."""
    readings: list[LppReading] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 2:
            msg = f"truncated header at byte {pos}"
            raise LppError(msg)
        channel, type_id = data[pos], data[pos + 1]
        spec = LPP_TYPES.get(type_id)
        if spec is None:
            msg = f"unknown LPP type {type_id} on channel {channel} at byte {pos}"
            raise LppError(msg)
        pos += 2
        if end - pos < spec.size:
            msg = f"truncated {spec.name} on channel {channel}: {end - pos} of {spec.size} bytes"
            raise LppError(msg)
        numbers: list[float] = []
        for width, div in zip(spec.widths, spec.divisor, strict=True):
            raw = int.from_bytes(data[pos : pos + width], "big", signed=spec.signed)
            numbers.append(raw / div if div != 1 else float(raw))
            pos += width
        if spec.components:
            readings.append(
                LppReading.model_construct(
                    channel=channel,
                    type_id=type_id,
                    name=spec.name,
                    unit=spec.unit,
                    value=None,
                    components=dict(zip(spec.components, numbers, strict=True)),
                )
            )
        else:
            readings.append(
                LppReading.model_construct(
                    channel=channel,
                    type_id=type_id,
                    name=spec.name,
                    unit=spec.unit,
                    value=numbers[0],
                    components=None,
                )
            )
    return tuple(readings)


LppItem = tuple[int, int | str, float | Iterable[float] | Mapping[str, float]]


def encode_lpp(items: Iterable[LppItem]) -> bytes:
    """Encode ``(channel, type id or name, value)`` items; raises LppError when a value does not fit.

    Multi-axis values are a sequence in component order or a mapping by component name.
    Values are rounded to the type's resolution.
    """
    by_name = {t.name: t for t in LPP_TYPES.values()}
    out = bytearray()
    for channel, type_ref, value in items:
        spec = LPP_TYPES.get(type_ref) if isinstance(type_ref, int) else by_name.get(type_ref)
        if spec is None:
            msg = f"unknown LPP type {type_ref!r}"
            raise LppError(msg)
        if not 0 <= channel <= 255:
            msg = f"channel {channel} outside 0-255"
            raise LppError(msg)
        if isinstance(value, Mapping):
            numbers = [float(value[c]) for c in spec.components]
        elif isinstance(value, int | float):
            numbers = [float(value)]
        else:
            numbers = [float(v) for v in value]
        if len(numbers) != len(spec.widths):
            msg = f"{spec.name} needs {len(spec.widths)} values, got {len(numbers)}"
            raise LppError(msg)
        out += bytes((channel, spec.type_id))
        for number, width, div in zip(numbers, spec.widths, spec.divisor, strict=True):
            try:
                out += round(number * div).to_bytes(width, "big", signed=spec.signed)
            except OverflowError as exc:
                msg = f"{spec.name} value {number} does not fit in {width} bytes"
                raise LppError(msg) from exc
    return bytes(out)
