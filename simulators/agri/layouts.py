"""Payload layouts of the simulated probe models: their "firmware", one per device profile.

Each layout says where a reading goes on the wire (LPP channel and type, or JSON path), in which
unit, and how the value the platform should store follows from what was sent. The layouts are
written here independently of ``processors.profiles`` (a unit test checks they agree with the
profile files), and they deliberately differ from one another: the same channel carries
temperature on one model and moisture on another, so a mapping by channel alone stores wrong
values and the value check of the oracle (``expected_values``) fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LAYOUTS", "Layout", "WireField", "layouts_for"]


def _same(v: float) -> float:
    return v


@dataclass(frozen=True, slots=True)
class WireField:
    """One reading on the wire: ``key`` (LPP channel or JSON path), item, encoding and back."""

    key: int | str
    item: str
    lpp_type: str | None = None
    to_wire: Callable[[float], float] = _same
    from_wire: Callable[[float], float] = _same


# LPP type -> resolution of its value on the wire (Cayenne LPP type table)
LPP_STEP: dict[str, float] = {
    "temperature": 0.1,
    "humidity": 0.5,
    "analog_input": 0.01,
    "voltage": 0.01,
    "generic_sensor": 1.0,
    "illuminance": 1.0,
    "barometric_pressure": 0.1,
}


@dataclass(frozen=True, slots=True)
class Layout:
    """One probe model: its profile name, kind, payload encoding and fields."""

    profile: str
    kind: str  # soil | weather
    encoding: str  # lpp | json | object
    fields: tuple[WireField, ...]

    def wire(self, values: dict[str, float]) -> list[tuple[WireField, float]]:
        """(field, value as sent) for every field, quantized as the encoding will carry it."""
        out = []
        for f in self.fields:
            sent = f.to_wire(values[f.item])
            if f.lpp_type is not None:
                step = LPP_STEP[f.lpp_type]
                sent = round(round(sent / step) * step, 6)
            else:
                sent = round(sent, 4)
            out.append((f, sent))
        return out

    def expected(self, wire: list[tuple[WireField, float]]) -> dict[str, float]:
        """What the platform should store for the sent values (catalog units)."""
        return {f.item: f.from_wire(sent) for f, sent in wire}


Conv = tuple[Callable[[float], float], Callable[[float], float]]  # (to wire, from wire)


def _lpp(ch: int, item: str, kind: str, conv: Conv = (_same, _same)) -> WireField:
    return WireField(ch, item, kind, conv[0], conv[1])


def _json(path: str, item: str, conv: Conv = (_same, _same)) -> WireField:
    return WireField(path, item, None, conv[0], conv[1])


_F: Conv = (lambda c: c * 9 / 5 + 32, lambda f: (f - 32) * 5 / 9)
_MS: Conv = (lambda us: us / 1000, lambda ms: ms * 1000)
_KPA: Conv = (lambda hpa: hpa / 10, lambda kpa: kpa * 10)
_MV: Conv = (lambda v: v * 1000, lambda mv: mv / 1000)
_PA: Conv = (lambda hpa: hpa * 100, lambda pa: pa / 100)

LAYOUTS: dict[str, Layout] = {
    layout.profile: layout
    for layout in (
        Layout("sim-soil-a-lpp", "soil", "lpp", (
            _lpp(1, "soil_temperature", "temperature"),
            _lpp(2, "soil_moisture", "humidity"),
            _lpp(3, "soil_ec", "generic_sensor"),
            _lpp(4, "soil_ph", "analog_input"),
            _lpp(5, "battery", "voltage"),
        )),
        Layout("sim-soil-b-lpp", "soil", "lpp", (
            _lpp(1, "soil_moisture", "analog_input"),
            _lpp(2, "soil_temperature", "temperature"),
            _lpp(3, "soil_ec", "analog_input", _MS),
            _lpp(4, "soil_ph", "analog_input"),
            _lpp(5, "battery", "analog_input"),
        )),
        Layout("sim-soil-c-lpp", "soil", "lpp", (
            _lpp(1, "battery", "voltage"),
            _lpp(2, "soil_moisture", "analog_input"),
            _lpp(3, "soil_temperature", "analog_input", _F),
            _lpp(4, "soil_ec", "generic_sensor"),
            _lpp(5, "soil_ph", "analog_input"),
        )),
        Layout("sim-weather-a-lpp", "weather", "lpp", (
            _lpp(1, "air_temperature", "temperature"),
            _lpp(2, "air_humidity", "humidity"),
            _lpp(3, "illuminance", "illuminance"),
            _lpp(4, "barometric_pressure", "barometric_pressure"),
            _lpp(5, "rainfall", "analog_input"),
            _lpp(6, "battery", "voltage"),
        )),
        Layout("sim-weather-b-lpp", "weather", "lpp", (
            _lpp(1, "barometric_pressure", "analog_input", _KPA),
            _lpp(2, "illuminance", "illuminance"),
            _lpp(3, "air_temperature", "temperature"),
            _lpp(4, "air_humidity", "humidity"),
            _lpp(5, "rainfall", "analog_input"),
            _lpp(8, "battery", "voltage"),
        )),
        Layout("sim-soil-json", "soil", "json", (
            _json("moisture_pct", "soil_moisture"),
            _json("temp_f", "soil_temperature", _F),
            _json("ec_ms_cm", "soil_ec", _MS),
            _json("ph", "soil_ph"),
            _json("bat_mv", "battery", _MV),
        )),
        Layout("sim-weather-object", "weather", "object", (
            _json("air.t", "air_temperature"),
            _json("air.rh", "air_humidity"),
            _json("light.lux", "illuminance"),
            _json("air.p_pa", "barometric_pressure", _PA),
            _json("rain_mm", "rainfall"),
            _json("vbat", "battery"),
        )),
    )
}  # fmt: skip


def layouts_for(kind: str, encoding: str) -> tuple[Layout, ...]:
    """Layouts of one kind: ``mixed`` (all), ``lpp`` (LPP ones) or ``json`` (JSON and object)."""
    out = [x for x in LAYOUTS.values() if x.kind == kind]
    if encoding == "lpp":
        out = [x for x in out if x.encoding == "lpp"]
    elif encoding == "json":
        out = [x for x in out if x.encoding != "lpp"]
    return tuple(out)
