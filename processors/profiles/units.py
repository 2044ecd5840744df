"""UCUM units by quantity, and linear conversion between units of the same quantity.

Every unit a catalog item may carry (``processors.catalog.units.ALLOWED_UNITS``) is here, plus the
units devices commonly send that the catalog does not store (``[degF]``, ``mbar``, ``[psi]`` ...).
A conversion is ``canonical = value * factor + offset`` into the quantity's base unit and back, so
°F -> Cel, hPa -> kPa, mV -> V are all one formula. Units of different quantities never convert:
``%`` (a percentage) and ``1`` (a bare number) are deliberately different quantities, because a
generic LPP ``analog_input`` carries "some number" and must not be scaled by 100 on a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["UNITS", "UnitInfo", "conversion_problem", "convert", "quantity_of"]


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """A unit's quantity and its affine map to the quantity's base unit."""

    quantity: str
    factor: float
    offset: float = 0.0


def _q(quantity: str, **units: float | tuple[float, float]) -> dict[str, UnitInfo]:
    out: dict[str, UnitInfo] = {}
    for code, spec in units.items():
        factor, offset = spec if isinstance(spec, tuple) else (spec, 0.0)
        out[code] = UnitInfo(quantity, factor, offset)
    return out


# Keyword names cannot hold UCUM codes such as "m/s", so each group is a dict literal.
UNITS: dict[str, UnitInfo] = {
    **_q("number", **{"1": 1.0}),
    **_q("percentage", **{"%": 1.0}),
    **_q("parts_per_million", **{"[ppm]": 1.0}),
    **_q("length", m=1.0, km=1000.0, cm=0.01, mm=0.001, **{"[in_i]": 0.0254, "[ft_i]": 0.3048}),
    **_q("area", m2=1.0),
    **_q("volume", m3=1.0, L=0.001, mL=1e-6),
    **_q("angle", deg=1.0, rad=180.0 / math.pi),
    **_q("time", s=1.0, ms=0.001, min=60.0, h=3600.0, d=86400.0),
    **_q("speed", **{"m/s": 1.0, "km/h": 1 / 3.6}),
    **_q("acceleration", **{"m/s2": 1.0, "[g]": 9.80665}),
    **_q("angular_speed", **{"deg/s": 1.0}),
    **_q("volume_flow", **{"m3/h": 1.0, "L/min": 0.06}),
    **_q("temperature", Cel=1.0, K=(1.0, -273.15), **{"[degF]": (5 / 9, -32 * 5 / 9)}),
    **_q("pressure", Pa=1.0, hPa=100.0, kPa=1000.0, bar=1e5, mbar=100.0, **{"[psi]": 6894.757}),
    **_q("voltage", V=1.0, mV=0.001),
    **_q("current", A=1.0, mA=0.001),
    **_q("power", W=1.0, kW=1000.0),
    **_q("energy", J=1.0, **{"kW.h": 3.6e6, "W.h": 3600.0}),
    **_q("frequency", Hz=1.0, kHz=1000.0),
    **_q("conductivity", **{"uS/cm": 1.0, "mS/cm": 1000.0, "S/m": 1e4}),
    **_q("illuminance", lx=1.0),
    # logarithmic levels: each reference is its own quantity, no linear conversion exists
    **_q("level_db", dB=1.0),
    **_q("level_dbm", **{"dB[mW]": 1.0}),
    **_q("level_dba", **{"dB[A]": 1.0}),
    **_q("acidity", **{"[pH]": 1.0}),
    **_q("mass_concentration", **{"mg/L": 1.0, "ug/m3": 1e-6}),
    **_q("mass", g=1.0, kg=1000.0, t=1e6),
}


def quantity_of(unit: str) -> str | None:
    """The quantity a UCUM code measures, or None when the code is not known here."""
    info = UNITS.get(unit)
    return info.quantity if info else None


def conversion_problem(source: str, target: str) -> str | None:
    """Why ``source`` cannot be converted to ``target`` (None when it can)."""
    a, b = UNITS.get(source), UNITS.get(target)
    if a is None:
        return f"unit {source!r} is not a known UCUM code"
    if b is None:
        return f"unit {target!r} is not a known UCUM code"
    if a.quantity != b.quantity:
        return f"{source!r} measures {a.quantity} but {target!r} measures {b.quantity}"
    return None


def convert(value: float, source: str, target: str) -> float:
    """``value`` in ``source`` expressed in ``target``; ValueError when the quantities differ."""
    if source == target:
        return value
    problem = conversion_problem(source, target)
    if problem is not None:
        raise ValueError(problem)
    a, b = UNITS[source], UNITS[target]
    base = value * a.factor + a.offset
    # Round away binary noise (0.1 hPa -> 0.01 kPa, not 0.010000000000000002) at 12 significant
    # digits, far below any sensor's resolution.
    out = (base - b.offset) / b.factor
    return float(f"{out:.12g}")
