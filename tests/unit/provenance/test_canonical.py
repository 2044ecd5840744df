"""The canonical form of logged rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.provenance.canonical import (
    CanonicalError,
    canonical_bytes,
    reference_bytes,
    to_json_types,
)


def test_keys_sorted_no_whitespace_unicode_kept() -> None:
    doc = {"b": [1, 2.5, None], "a": "土壤", "c": {"y": True, "x": False}}
    assert canonical_bytes(doc) == '{"a":"土壤","b":[1,2.5,null],"c":{"x":false,"y":true}}'.encode()


def test_doubles_use_shortest_round_trip() -> None:
    assert canonical_bytes([0.1, 20.0, 1e-7, 1e16, -0.0]) == b"[0.1,20.0,1e-07,1e+16,-0.0]"


def test_timestamps_are_utc_microseconds() -> None:
    local = datetime(2026, 11, 1, 8, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    assert canonical_bytes(local) == b'"2026-11-01T00:00:00.000005Z"'
    assert to_json_types({"t": datetime(2026, 1, 1, tzinfo=UTC)}) == {
        "t": "2026-01-01T00:00:00.000000Z"
    }


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), datetime(2026, 1, 1), object()])
def test_values_without_a_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_bytes({"v": bad})


def test_json_round_trip_is_stable() -> None:
    import json

    doc = {"x": 43.88, "n": 7, "s": 'a"b', "l": ["ok"]}
    assert canonical_bytes(json.loads(canonical_bytes(doc))) == canonical_bytes(doc)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.datetimes(timezones=st.just(UTC))
    | st.floats(allow_nan=False, allow_infinity=False)
)
_docs = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=12,
)


@given(_docs)
def test_fast_encoder_is_byte_identical_to_the_reference(doc: object) -> None:
    try:
        expected = reference_bytes(doc)
    except UnicodeEncodeError:  # lone surrogates have no UTF-8 form in either encoder
        with pytest.raises(UnicodeEncodeError):
            canonical_bytes(doc)
        return
    assert canonical_bytes(doc) == expected
