"""UCUM unit codes the catalog accepts for items (case-sensitive UCUM c/s codes)."""

from __future__ import annotations

__all__ = ["ALLOWED_UNITS"]

# A closed list rather than a UCUM parser: every unit a stored column may carry is reviewed once,
# and a typo ("degC", "kmh") is refused at load instead of silently creating a new unit.
ALLOWED_UNITS: frozenset[str] = frozenset(
    {
        # dimensionless, counts, ratios
        "1",
        "%",
        "[ppm]",
        # length, area, volume
        "m",
        "km",
        "cm",
        "mm",
        "m2",
        "m3",
        "L",
        # angle
        "deg",
        "rad",
        # time
        "s",
        "ms",
        "min",
        "h",
        "d",
        # speed, acceleration, flow
        "m/s",
        "km/h",
        "m/s2",
        "m3/h",
        "L/min",
        # temperature
        "Cel",
        "K",
        # pressure
        "Pa",
        "hPa",
        "kPa",
        "bar",
        # electricity and energy
        "V",
        "mV",
        "A",
        "mA",
        "W",
        "kW",
        "kW.h",
        "Hz",
        "uS/cm",
        "mS/cm",
        # light, sound, radio
        "lx",
        "dB",
        "dB[mW]",
        "dB[A]",
        # chemistry
        "[pH]",
        "mg/L",
        "ug/m3",
        # mass
        "g",
        "kg",
        "t",
    }
)
