"""Cayenne LPP against an independent encoder (pycayennelpp), our own encoder and the golden cases."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from cayennelpp import LppFrame  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.codecs.lorawan import LPP_TYPES, LppError, decode_lpp, encode_lpp
from tests.fixtures.golden import GoldenCase, check_params

# (pycayennelpp adder, args, our type name, expected value or components)
THIRD_PARTY: list[tuple[str, tuple[Any, ...], str, Any]] = [
    ("add_digital_input", (1,), "digital_input", 1.0),
    ("add_digital_output", (0,), "digital_output", 0.0),
    ("add_analog_input", (-12.34,), "analog_input", -12.34),
    ("add_analog_output", (3.21,), "analog_output", 3.21),
    ("add_generic", (4000000000,), "generic_sensor", 4000000000.0),
    ("add_luminosity", (65000,), "illuminance", 65000.0),
    ("add_presence", (1,), "presence", 1.0),
    ("add_temperature", (-4.1,), "temperature", -4.1),
    ("add_humidity", (63.5,), "humidity", 63.5),
    ("add_accelerometer", (0.5, -1.234, 1.0), "accelerometer", {"x": 0.5, "y": -1.234, "z": 1.0}),
    ("add_barometer", (1013.2,), "barometric_pressure", 1013.2),
    ("add_voltage", (3.61,), "voltage", 3.61),
    ("add_current", (1.234,), "current", 1.234),
    ("add_frequency", (868100000,), "frequency", 868100000.0),
    ("add_percentage", (87,), "percentage", 87.0),
    ("add_altitude", (-120,), "altitude", -120.0),
    ("add_load", (-1.5,), "load", -1.5),
    ("add_concentration", (415,), "concentration", 415.0),
    ("add_power", (1500,), "power", 1500.0),
    ("add_distance", (12.345,), "distance", 12.345),
    ("add_energy", (9.876,), "energy", 9.876),
    ("add_direction", (270,), "direction", 270.0),
    ("add_unix_time", (1767225600,), "unix_time", 1767225600.0),
    ("add_gyrometer", (-12.5, 0.01, 300.0), "gyrometer", {"x": -12.5, "y": 0.01, "z": 300.0}),
    ("add_colour", (255, 128, 0), "colour", {"r": 255.0, "g": 128.0, "b": 0.0}),
    ("add_gps", (43.8171, 125.3235, 215.5), "gps", {"lat": 43.8171, "lon": 125.3235, "alt": 215.5}),
    ("add_switch", (1,), "switch", 1.0),
]


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(math.isclose(a[k], b[k], abs_tol=1e-9) for k in b)
    return math.isclose(a, b, abs_tol=1e-9)


def test_every_type_from_pycayennelpp_in_one_multichannel_frame() -> None:
    frame = LppFrame()
    for channel, (adder, args, _, _) in enumerate(THIRD_PARTY):
        getattr(frame, adder)(channel, *args)
    readings = decode_lpp(bytes(frame))
    assert len(readings) == len(THIRD_PARTY)
    for channel, (reading, (_, _, name, expected)) in enumerate(
        zip(readings, THIRD_PARTY, strict=True)
    ):
        assert (reading.channel, reading.name) == (channel, name)
        got = reading.components if isinstance(expected, dict) else reading.value
        assert _close(got, expected), name


def test_our_encoder_matches_pycayennelpp_bytes() -> None:
    frame = LppFrame()
    items: list[Any] = []
    for channel, (adder, args, name, _) in enumerate(THIRD_PARTY):
        getattr(frame, adder)(channel, *args)
        items.append((channel, name, args if len(args) > 1 else args[0]))
    assert encode_lpp(items) == bytes(frame)


def lpp_readings(case: GoldenCase) -> None:
    """The frame decodes to the expected readings, in frame order, with their units."""
    readings = decode_lpp(case.hex(case.expected["payload"]))
    assert [
        {"channel": r.channel, "name": r.name, "unit": r.unit}
        | ({"components": r.components} if r.components else {"value": r.value})
        for r in readings
    ] == case.expected["readings"]


CHECKS: dict[str, Callable[[GoldenCase], None]] = {"lpp_readings": lpp_readings}


@pytest.mark.parametrize(("case", "check"), check_params("agri", CHECKS))
def test_golden_case(case: GoldenCase, check: Callable[[GoldenCase], None]) -> None:
    """Each case folder under tests/data/agri/ passes every check its expected.json lists."""
    check(case)


@pytest.mark.parametrize(
    "frame",
    ["0367", "036701", "03ff0000", "01", "018806765ff2960a0003", "01f0" + "00" * 8],
    ids=["no-value", "short-temperature", "unknown-type", "half-header", "short-gps", "polyline"],
)
def test_truncated_or_unknown_fails_whole_frame(frame: str) -> None:
    with pytest.raises(LppError):
        decode_lpp(bytes.fromhex(frame))


def test_empty_frame_has_no_readings() -> None:
    assert decode_lpp(b"") == ()


def test_encoder_refuses_out_of_range() -> None:
    with pytest.raises(LppError):
        encode_lpp([(1, "humidity", 200.0)])
    with pytest.raises(LppError):
        encode_lpp([(1, "no_such_type", 1.0)])
    with pytest.raises(LppError):
        encode_lpp([(300, "temperature", 1.0)])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_frames_only_lpp_error(data: bytes) -> None:
    try:
        readings = decode_lpp(data)
    except LppError as exc:
        assert str(exc)
    else:
        assert sum(2 + LPP_TYPES[r.type_id].size for r in readings) == len(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(-3276, 3276)), max_size=6))
def test_temperature_round_trip(items: list[tuple[int, int]]) -> None:
    frame = encode_lpp([(ch, 103, tenths / 10) for ch, tenths in items])
    assert [
        (r.channel, round(r.value * 10)) for r in decode_lpp(frame) if r.value is not None
    ] == items
