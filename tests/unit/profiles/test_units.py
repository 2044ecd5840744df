"""UCUM quantities and conversions: every catalog unit is known, conversions are exact enough."""

from __future__ import annotations

import pytest

from processors.catalog.units import ALLOWED_UNITS
from processors.profiles.units import UNITS, conversion_problem, convert, quantity_of


def test_every_catalog_unit_has_a_quantity() -> None:
    assert sorted(u for u in ALLOWED_UNITS if u not in UNITS) == []


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (212.0, "[degF]", "Cel", 100.0),
        (-40.0, "[degF]", "Cel", -40.0),
        (273.15, "K", "Cel", 0.0),
        (1013.2, "hPa", "kPa", 101.32),
        (98.53, "kPa", "hPa", 985.3),
        (101325.0, "Pa", "hPa", 1013.25),
        (3600.0, "mV", "V", 3.6),
        (0.85, "mS/cm", "uS/cm", 850.0),
        (36.0, "km/h", "m/s", 10.0),
        (1.0, "[in_i]", "mm", 25.4),
    ],
)
def test_conversions(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target) == pytest.approx(expected, abs=1e-9)


def test_quantities_never_cross() -> None:
    assert quantity_of("%") != quantity_of("1")  # a bare number is not a percentage
    assert (
        conversion_problem("Cel", "%") == "'Cel' measures temperature but '%' measures percentage"
    )
    assert conversion_problem("%", "uS/cm") is not None
    assert conversion_problem("degC", "Cel") == "unit 'degC' is not a known UCUM code"
    with pytest.raises(ValueError, match="measures"):
        convert(1.0, "V", "A")
