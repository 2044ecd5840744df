"""Golden test of the Sparkplug codec: every case under tests/data/iiot/ decodes to its expected values.

Cases: a session written by an independent encoder (pysparkplug) and the specification's worked
array examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from processors.codecs.sparkplug import DataType, SparkplugCodec, SparkplugMessage
from processors.codecs.sparkplug.datatypes import pack_array, unpack_array
from tests.fixtures.golden import GoldenCase, check_params
from tests.unit.codecs.sparkplug.helpers import envelope


class _Session:
    """The messages of a session case by type, fed one at a time into a codec."""

    def __init__(self, case: GoldenCase) -> None:
        self.metrics: list[dict[str, Any]] = case.expected["metrics"]
        self.messages = {
            m["type"]: (m["topic"], case.hex(m["payload"])) for m in case.expected["messages"]
        }

    def feed(self, codec: SparkplugCodec, mtype: str) -> SparkplugMessage:
        topic, payload = self.messages[mtype]
        return codec.decode(payload, envelope(topic, payload))


def _norm(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-6)
    if isinstance(expected, list) and expected and isinstance(expected[0], float):
        return all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got, expected, strict=True))
    return bool(_norm(got) == expected)


def nbirth_every_datatype(case: GoldenCase) -> None:
    """The NBIRTH carries one metric of every datatype; each decodes to its expected value."""
    session = _Session(case)
    msg = session.feed(SparkplugCodec(), "NBIRTH")
    by_name = {m.name: m for m in msg.metrics}
    assert msg.bd_seq == 3
    assert msg.seq == 0
    assert msg.seq_status == "first"
    assert by_name["Node Control/Rebirth"].value is False
    for spec in session.metrics:
        metric = by_name[spec["name"]]
        assert metric.datatype == spec["datatype"]
        assert metric.alias == spec["alias"]
        assert _same(metric.value, spec["expected"]), spec["name"]
    assert by_name["DateTime"].as_datetime() is not None


def ndata_by_alias(case: GoldenCase) -> None:
    """An NDATA by alias only gets names and datatypes from the birth; a skipped seq is a gap."""
    session = _Session(case)
    codec = SparkplugCodec()
    session.feed(codec, "NBIRTH")
    msg = session.feed(codec, "NDATA")
    assert msg.seq_status == "gap"  # pysparkplug vectors skip seq 1 (it belongs to the DBIRTH)
    codec = SparkplugCodec()
    session.feed(codec, "NBIRTH")
    session.feed(codec, "DBIRTH")
    msg = session.feed(codec, "NDATA")
    assert msg.seq_status == "ok"
    assert msg.birth_known and not msg.unresolved_aliases
    by_name = {m.name: m for m in msg.metrics}
    for spec in session.metrics:
        metric = by_name[spec["name"]]
        assert metric.datatype == spec["datatype"]
        assert _same(metric.value, spec["expected"]), spec["name"]


def lifecycle(case: GoldenCase) -> None:
    """Device birth, data, death, commands, node death and host state in session order."""
    session = _Session(case)
    codec = SparkplugCodec()
    session.feed(codec, "NBIRTH")
    dbirth = session.feed(codec, "DBIRTH")
    assert [m.name for m in dbirth.metrics] == ["Temp", "Count"]
    session.feed(codec, "NDATA")
    ddata = session.feed(codec, "DDATA")
    assert ddata.device == "pump-1" and ddata.seq_status == "ok" and not ddata.stale
    temp, count = ddata.metrics
    assert (temp.name, temp.value, temp.is_historical) == ("Temp", 21.0, True)
    assert (count.name, count.is_null, count.value) == ("Count", True, None)
    ddeath = session.feed(codec, "DDEATH")
    assert ddeath.stale and ddeath.seq_status == "ok"
    ncmd = session.feed(codec, "NCMD")
    assert ncmd.metrics[0].name == "Node Control/Rebirth" and ncmd.metrics[0].value is True
    dcmd = session.feed(codec, "DCMD")
    assert dcmd.metrics[0].name == "Temp" and dcmd.metrics[0].value == 22.0
    ndeath = session.feed(codec, "NDEATH")
    assert ndeath.bd_seq == 3 and ndeath.stale and not ndeath.ignored
    state = session.feed(codec, "STATE")
    assert state.state is not None and state.state.online is True
    assert state.host_id == "scada-1"


def array(case: GoldenCase) -> None:
    """A packed array decodes to the expected values and the values encode back to the same bytes."""
    datatype = DataType[case.expected["datatype"]]
    packed, values = case.hex(case.expected["payload"]), case.expected["values"]
    assert unpack_array(datatype, packed) == values
    assert pack_array(datatype, values) == packed


CHECKS: dict[str, Callable[[GoldenCase], None]] = {
    f.__name__: f for f in (nbirth_every_datatype, ndata_by_alias, lifecycle, array)
}


@pytest.mark.parametrize(("case", "check"), check_params("iiot", CHECKS))
def test_golden_case(case: GoldenCase, check: Callable[[GoldenCase], None]) -> None:
    """Each case folder passes every check its expected.json lists."""
    check(case)
