"""B07 and B12 in the normalizer: duplicate JSON keys refused, same key with another payload a conflict."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from contracts.dead_letter import ReasonCode
from processors.catalog import Catalog, load_catalog
from processors.codecs.base import CodecError
from processors.codecs.lorawan import LorawanCodec
from processors.codecs.strictjson import StrictJsonError, loads_strict
from processors.codecs.v2x.jsonforms import load_json
from processors.normalize.dedup import RecentKeys
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from tests.fixtures.normalize import (
    FakeRegistry,
    JsonTestMapper,
    TestDevice,
    chirpstack_up,
    raw_record,
)

SOIL = "0011223344556677"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def make(catalog: Catalog) -> NormalizeProcessor:
    return NormalizeProcessor(
        catalog=catalog,
        registry=FakeRegistry(TestDevice("agri", SOIL, "jl_agri_bureau", ("agri_soil",))),
        mappers={"agri": JsonTestMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("x" * 20)}, "k1"),
        dedup=RecentKeys(100),
    )


def soil(moisture: float, key: str = "5") -> bytes:
    return json.dumps(
        {"dataset": "agri_soil", "values": {"soil_moisture": moisture}, "key": key}
    ).encode()


def test_b12_same_key_different_payload_is_a_conflict_not_a_duplicate(catalog: Catalog) -> None:
    """B12: the first is stored; two more payloads under its key are two conflicts with both hashes."""
    proc = make(catalog)
    first, second, third = (raw_record(soil(m), offset=i) for i, m in enumerate((1.0, 2.0, 3.0)))
    result = proc.process([first, second, third, raw_record(soil(1.0), offset=9)])
    assert len(result.records) == 1
    assert result.records[0].values["soil_moisture"] == 1.0
    assert result.duplicates == 1  # the identical redelivery only
    letters = result.dead_letters
    assert [d.reason for d in letters] == [ReasonCode.CONFLICTING_DUPLICATE] * 2
    for letter, raw in zip(letters, (second, third), strict=True):
        assert first.envelope.sha256 in letter.detail
        assert raw.envelope.sha256 in letter.detail
        assert letter.payload == raw.envelope.payload


def test_recent_keys_remember_reports_the_first_hash() -> None:
    keys = RecentKeys(2)
    assert keys.remember("a", "h1") is None
    assert keys.remember("a", "h2") == "h1"
    assert keys.check_and_add("a") is True
    keys.remember("b", "h")
    keys.remember("c", "h")  # evicts "a"
    assert keys.remember("a", "h3") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"a": 1, "a": 2}', ReasonCode.DUPLICATE_KEY),
        (b'{"x": {"a": 1, "b": 2, "a": 3}}', ReasonCode.DUPLICATE_KEY),
        (b'{"a": NaN}', ReasonCode.VALUE_NOT_FINITE),
        (b'{"a": -Infinity}', ReasonCode.VALUE_NOT_FINITE),
    ],
)
def test_b06_b07_strict_json(text: bytes, reason: ReasonCode) -> None:
    """B07 duplicate keys and B06 non-standard constants are refused with their reason codes."""
    with pytest.raises(StrictJsonError) as info:
        loads_strict(text)
    assert info.value.reason is reason
    with pytest.raises(CodecError) as coded:
        load_json(text, max_bytes=1000, max_depth=10)
    assert coded.value.reason is reason


def test_b07_lorawan_uplink_with_duplicate_key_is_refused() -> None:
    """B07 through a real codec: a ChirpStack uplink whose fCnt appears twice."""
    good = chirpstack_up(SOIL, b"\x01\x67\x00\xfa")
    bad = good.decode().replace('"fCnt":', '"fCnt": 99, "fCnt":', 1)
    assert bad.count('"fCnt"') == 2
    raw = raw_record(bad.encode(), topic=f"application/app1/device/{SOIL}/event/up")
    with pytest.raises(CodecError) as info:
        LorawanCodec().decode(raw.envelope.payload, raw.envelope)
    assert info.value.reason is ReasonCode.DUPLICATE_KEY


def test_strict_json_keeps_ordinary_documents() -> None:
    assert loads_strict(b'{"a": [1, {"b": 2.5}], "c": null}') == {"a": [1, {"b": 2.5}], "c": None}
