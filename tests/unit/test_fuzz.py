"""A short bounded fuzz of the input path in the suite, and the two defects the long one found."""

from __future__ import annotations

import json

import pytest

from contracts.dead_letter import ReasonCode
from processors.catalog import load_catalog
from processors.codecs.sparkplug.payload import PayloadError, decode_payload
from scripts import fuzz
from tests.fixtures.normalize import raw_record
from tests.unit.normalize.test_conflicts import make


def test_short_fuzz_never_crashes_and_accounts_for_every_input() -> None:
    """1 500 mutated inputs through gateway and normalizer: no exception, each one accounted."""
    report = fuzz.run(seconds=120, max_inputs=1500, seed=17)
    print(report.render())
    assert report.crashes == []
    assert report.inputs == 1500
    assert sum(report.outcomes.values()) == report.inputs
    assert report.outcomes["normalize_dead_letter"] > 0 and report.outcomes["records"] > 0
    assert all(":" in reason for reason in report.reasons)  # every dead letter has its code


def test_sparkplug_metric_name_not_utf8_is_a_payload_error() -> None:
    """proto2 hands an invalid UTF-8 string over as bytes; the mapper crashed on it (fuzz, seed 1)."""
    metric = b"\x0a\x02\xff\xfe" + b"\x20\x0a" + b"\x79" + b"\x00" * 8  # name, Double, 0.0
    payload = b"\x08\x01" + b"\x12" + bytes([len(metric)]) + metric + b"\x18\x00"
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        decode_payload(payload)


@pytest.mark.parametrize(
    ("ts_ns", "reason"), [(2**70, ReasonCode.FUTURE_TIMESTAMP), (-(2**70), ReasonCode.TOO_OLD)]
)
def test_device_time_beyond_64_bit_nanoseconds_is_refused_not_a_crash(
    ts_ns: int, reason: ReasonCode
) -> None:
    """A V2X time resolved past 2262 overflowed numpy in the time check (fuzz, seed 1)."""
    proc = make(load_catalog())
    doc = {"dataset": "agri_soil", "values": {"soil_moisture": 1.0}, "ts_ns": ts_ns}
    result = proc.process([raw_record(json.dumps(doc).encode())])
    assert [d.reason for d in result.dead_letters] == [reason]
    assert not result.records


def test_v2x_position_off_the_globe_is_dropped_not_a_crash() -> None:
    """RSI/MAP positions decoded out of range failed GeoPoint validation in the mapper (fuzz)."""
    from processors.normalize.mappers.v2x import _on_earth

    assert _on_earth(43.9, 125.3)
    assert not _on_earth(96.7, 125.3) and not _on_earth(43.9, 232.7)
    assert not _on_earth(None, 125.3) and not _on_earth(float("nan"), 0.0)
