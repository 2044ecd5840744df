"""Payloads built by an independent encoder (pysparkplug) and published spec examples decode right."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from processors.codecs.sparkplug import DataType, SparkplugCodec, SparkplugMessage
from processors.codecs.sparkplug.datatypes import pack_array, unpack_array
from tests.unit.codecs.sparkplug.helpers import envelope

VECTORS = json.loads(Path(__file__).with_name("pysparkplug_vectors.json").read_text())
MESSAGES = {m["type"]: (m["topic"], bytes.fromhex(m["hex"])) for m in VECTORS["messages"]}


def _feed(codec: SparkplugCodec, mtype: str) -> SparkplugMessage:
    topic, payload = MESSAGES[mtype]
    return codec.decode(payload, envelope(topic, payload))


def _norm(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-6)
    if isinstance(expected, list) and expected and isinstance(expected[0], float):
        return all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got, expected, strict=True))
    return bool(_norm(got) == expected)


@pytest.fixture
def born() -> tuple[SparkplugCodec, SparkplugMessage]:
    codec = SparkplugCodec()
    return codec, _feed(codec, "NBIRTH")


def test_nbirth_every_datatype(born: tuple[SparkplugCodec, SparkplugMessage]) -> None:
    _, msg = born
    by_name = {m.name: m for m in msg.metrics}
    assert msg.bd_seq == 3
    assert msg.seq == 0
    assert msg.seq_status == "first"
    assert by_name["Node Control/Rebirth"].value is False
    for spec in VECTORS["metrics"]:
        metric = by_name[spec["name"]]
        assert metric.datatype == spec["datatype"]
        assert metric.alias == spec["alias"]
        assert _same(metric.value, spec["expected"]), spec["name"]
    assert by_name["DateTime"].as_datetime() is not None


def test_ndata_by_alias_only_resolves_names_and_types(
    born: tuple[SparkplugCodec, SparkplugMessage],
) -> None:
    codec, _ = born
    msg = _feed(codec, "NDATA")
    assert msg.seq_status == "gap"  # pysparkplug vectors skip seq 1 (it belongs to the DBIRTH)
    codec = SparkplugCodec()
    _feed(codec, "NBIRTH")
    _feed(codec, "DBIRTH")
    msg = _feed(codec, "NDATA")
    assert msg.seq_status == "ok"
    assert msg.birth_known and not msg.unresolved_aliases
    by_name = {m.name: m for m in msg.metrics}
    for spec in VECTORS["metrics"]:
        metric = by_name[spec["name"]]
        assert metric.datatype == spec["datatype"]
        assert _same(metric.value, spec["expected"]), spec["name"]


def test_device_lifecycle_and_commands() -> None:
    codec = SparkplugCodec()
    _feed(codec, "NBIRTH")
    dbirth = _feed(codec, "DBIRTH")
    assert [m.name for m in dbirth.metrics] == ["Temp", "Count"]
    _feed(codec, "NDATA")
    ddata = _feed(codec, "DDATA")
    assert ddata.device == "pump-1" and ddata.seq_status == "ok" and not ddata.stale
    temp, count = ddata.metrics
    assert (temp.name, temp.value, temp.is_historical) == ("Temp", 21.0, True)
    assert (count.name, count.is_null, count.value) == ("Count", True, None)
    ddeath = _feed(codec, "DDEATH")
    assert ddeath.stale and ddeath.seq_status == "ok"
    ncmd = _feed(codec, "NCMD")
    assert ncmd.metrics[0].name == "Node Control/Rebirth" and ncmd.metrics[0].value is True
    dcmd = _feed(codec, "DCMD")
    assert dcmd.metrics[0].name == "Temp" and dcmd.metrics[0].value == 22.0
    ndeath = _feed(codec, "NDEATH")
    assert ndeath.bd_seq == 3 and ndeath.stale and not ndeath.ignored
    state = _feed(codec, "STATE")
    assert state.state is not None and state.state.online is True
    assert state.host_id == "scada-1"


def test_spec_example_int32_array() -> None:
    # Sparkplug 3.0, chapter 6: [123456789, 987654321] -> 15 CD 5B 07 B1 68 DE 3A
    packed = bytes.fromhex("15CD5B07B168DE3A")
    assert unpack_array(DataType.INT32_ARRAY, packed) == [123456789, 987654321]
    assert pack_array(DataType.INT32_ARRAY, [123456789, 987654321]) == packed


def test_spec_example_boolean_array() -> None:
    # count 12 little-endian, then bits most significant first: 0x34 0xD0
    values = [False, False, True, True, False, True, False, False, True, True, False, True]
    packed = bytes.fromhex("0C00000034D0")
    assert unpack_array(DataType.BOOLEAN_ARRAY, packed) == values
    assert pack_array(DataType.BOOLEAN_ARRAY, values) == packed


def test_spec_example_int8_array() -> None:
    # The 3.0 text prints 0xEF for -23, a known erratum: two's complement of -23 is 0xE9.
    assert unpack_array(DataType.INT8_ARRAY, bytes([0xE9, 0x7B])) == [-23, 123]
