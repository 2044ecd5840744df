"""Round trips through encode_payload, topics, and hostile input: only CodecError, never a crash."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.codecs.sparkplug import (
    DataSet,
    DataType,
    MetricSpec,
    SparkplugCodec,
    SparkplugMessage,
    TopicError,
    birth_payload,
    decode_payload,
    encode_payload,
    parse_topic,
)
from processors.codecs.sparkplug.datatypes import pack_array, unpack_array
from processors.codecs.sparkplug.payload import PayloadMessage
from tests.unit.codecs.sparkplug.helpers import T0, envelope, node_topic

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT_RANGES = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT8: (0, 2**8 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


@st.composite
def scalar_metric(draw: st.DrawFn) -> tuple[DataType, Any]:
    dt = draw(st.sampled_from([*INT_RANGES, DataType.DOUBLE, DataType.BOOLEAN, DataType.STRING]))
    if dt in INT_RANGES:
        lo, hi = INT_RANGES[dt]
        return dt, draw(st.integers(lo, hi))
    if dt is DataType.DOUBLE:
        return dt, draw(st.floats(allow_nan=False))
    if dt is DataType.BOOLEAN:
        return dt, draw(st.booleans())
    return dt, draw(st.text(max_size=20))


@FAST
@given(st.lists(scalar_metric(), min_size=1, max_size=8), st.integers(0, 255))
def test_scalar_round_trip(items: list[tuple[DataType, Any]], seq: int) -> None:
    specs = [
        MetricSpec(name=f"m{i}", alias=i, datatype=dt, value=v) for i, (dt, v) in enumerate(items)
    ]
    decoded = decode_payload(encode_payload(specs, seq=seq, timestamp=T0))
    assert decoded.seq == seq and decoded.timestamp == T0
    assert [(m.datatype, m.value) for m in decoded.metrics] == [(int(dt), v) for dt, v in items]


ARRAY_CASES: list[tuple[DataType, Any]] = [
    (DataType.INT8_ARRAY, st.lists(st.integers(-128, 127), max_size=9)),
    (DataType.INT16_ARRAY, st.lists(st.integers(-(2**15), 2**15 - 1), max_size=9)),
    (DataType.INT32_ARRAY, st.lists(st.integers(-(2**31), 2**31 - 1), max_size=9)),
    (DataType.INT64_ARRAY, st.lists(st.integers(-(2**63), 2**63 - 1), max_size=9)),
    (DataType.UINT8_ARRAY, st.lists(st.integers(0, 255), max_size=9)),
    (DataType.UINT16_ARRAY, st.lists(st.integers(0, 2**16 - 1), max_size=9)),
    (DataType.UINT32_ARRAY, st.lists(st.integers(0, 2**32 - 1), max_size=9)),
    (DataType.UINT64_ARRAY, st.lists(st.integers(0, 2**64 - 1), max_size=9)),
    (DataType.DOUBLE_ARRAY, st.lists(st.floats(allow_nan=False), max_size=9)),
    (DataType.BOOLEAN_ARRAY, st.lists(st.booleans(), max_size=20)),
    (
        DataType.STRING_ARRAY,
        st.lists(
            st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
            max_size=5,
        ),
    ),
    (DataType.DATETIME_ARRAY, st.lists(st.integers(0, 2**62), max_size=9)),
]


@pytest.mark.parametrize(("dt", "strategy"), ARRAY_CASES, ids=[c[0].spec_name for c in ARRAY_CASES])
def test_array_round_trip(dt: DataType, strategy: Any) -> None:
    @FAST
    @given(strategy)
    def check(values: list[Any]) -> None:
        spec = MetricSpec(name="a", datatype=dt, value=values)
        (metric,) = decode_payload(encode_payload([spec])).metrics
        assert metric.value == values
        assert unpack_array(dt, pack_array(dt, values)) == values

    check()


def test_float_array_and_float_scalar_are_float32() -> None:
    specs = [
        MetricSpec(name="f", datatype=DataType.FLOAT, value=0.1),
        MetricSpec(name="fa", datatype=DataType.FLOAT_ARRAY, value=[0.1, 2.0]),
    ]
    f, fa = decode_payload(encode_payload(specs)).metrics
    assert isinstance(f.value, float) and math.isclose(f.value, 0.1, rel_tol=1e-7)
    assert isinstance(fa.value, list) and fa.value[1] == 2.0


def test_dataset_bytes_file_datetime_and_properties() -> None:
    table = DataSet(
        columns=("t", "ok", "name"), types=(3, 11, 12), rows=((-5, True, "a"), (7, False, None))
    )
    specs = [
        MetricSpec(name="ds", datatype=DataType.DATASET, value=table),
        MetricSpec(name="blob", datatype=DataType.BYTES, value=b"\x00\x01"),
        MetricSpec(name="file", datatype=DataType.FILE, value=b"PK"),
        MetricSpec(name="when", datatype=DataType.DATETIME, value=T0),
        MetricSpec(
            name="temp",
            datatype=DataType.DOUBLE,
            value=20.0,
            is_transient=True,
            properties={"engUnit": (12, "Cel"), "Quality": (3, 192)},
        ),
        MetricSpec(name="nothing", datatype=DataType.INT32, is_null=True),
    ]
    ds, blob, file, when, temp, nothing = decode_payload(encode_payload(specs)).metrics
    assert ds.value == table
    assert (blob.value, file.value) == (b"\x00\x01", b"PK")
    assert when.value == T0 and when.as_datetime() is not None
    assert temp.is_transient and temp.properties is not None
    assert temp.properties.values["engUnit"].value == "Cel"
    assert temp.properties.values["Quality"].value == 192
    assert nothing.is_null and nothing.value is None
    assert temp.scalar_columns() == {"value_double": 20.0, "value_text": None, "value_bool": None}


def test_template_value_decodes() -> None:
    msg = PayloadMessage()
    metric = msg.metrics.add()
    metric.name, metric.datatype = "motor", int(DataType.TEMPLATE)
    metric.template_value.template_ref = "Motor"
    inner = metric.template_value.metrics.add()
    inner.name, inner.datatype, inner.int_value = "rpm", int(DataType.INT16), 0xFFFF
    param = metric.template_value.parameters.add()
    param.name, param.type, param.string_value = "vendor", int(DataType.STRING), "ACME"
    (decoded,) = decode_payload(msg.SerializeToString()).metrics
    tmpl = decoded.value
    assert tmpl is not None and not isinstance(tmpl, int | float | str | bytes | list | DataSet)
    assert tmpl.template_ref == "Motor"
    assert tmpl.metrics[0].value == -1
    assert tmpl.parameters[0].value == "ACME"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("spBv1.0/G/NBIRTH/E", ("NBIRTH", "G", "E", None)),
        ("spBv1.0/G/DDATA/E/D", ("DDATA", "G", "E", "D")),
        ("spBv1.0/STATE/host", ("STATE", "", "", None)),
    ],
)
def test_topics(topic: str, expected: tuple[str, str, str, str | None]) -> None:
    parsed = parse_topic(topic)
    assert (parsed.message_type, parsed.group, parsed.edge_node, parsed.device) == expected
    assert str(parsed) == topic


@pytest.mark.parametrize(
    "topic",
    [
        "spBv1.0/G/NDATA/E/D",
        "spBv1.0/G/DDATA/E",
        "spAv1.0/G/NDATA/E",
        "spBv1.0/G/XDATA/E",
        "spBv1.0//NDATA/E",
    ],
)
def test_bad_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)
    with pytest.raises(CodecError):
        SparkplugCodec().decode(b"", envelope(topic, b""))


def _codec_with_birth() -> SparkplugCodec:
    codec = SparkplugCodec()
    specs = [MetricSpec(name="x", alias=1, datatype=DataType.INT32_ARRAY, value=[1])]
    payload = birth_payload(specs, bd_seq=0, seq=0, timestamp=T0)
    codec.decode(payload, envelope(node_topic("NBIRTH"), payload))
    return codec


@FAST
@given(
    st.binary(max_size=300),
    st.sampled_from(["NBIRTH", "NDATA", "NDEATH", "NCMD", "DDATA", "STATE"]),
)
def test_random_bytes_only_codec_error(data: bytes, mtype: str) -> None:
    codec = _codec_with_birth()
    topic = "spBv1.0/STATE/h" if mtype == "STATE" else node_topic(mtype)
    if mtype.startswith("D"):
        topic += "/dev"
    try:
        result = codec.decode(data, envelope(topic, data))
    except CodecError as exc:
        assert exc.reason in ReasonCode
    else:
        assert isinstance(result, SparkplugMessage)


@FAST
@given(st.data())
def test_truncated_and_mutated_payloads(data: st.DataObject) -> None:
    specs = [
        MetricSpec(name="a", alias=1, datatype=DataType.INT32_ARRAY, value=[1, 2, 3]),
        MetricSpec(name="b", alias=2, datatype=DataType.BOOLEAN_ARRAY, value=[True] * 9),
        MetricSpec(name="c", alias=3, datatype=DataType.STRING_ARRAY, value=["x", "y"]),
        MetricSpec(
            name="d",
            alias=4,
            datatype=DataType.DATASET,
            value=DataSet(columns=("c",), types=(9,), rows=((1.0,),)),
        ),
    ]
    good = birth_payload(specs, bd_seq=1, seq=0, timestamp=T0)
    cut = data.draw(st.integers(0, len(good)))
    flip = data.draw(st.integers(0, len(good) - 1))
    mutated = bytearray(good[:cut])
    if flip < len(mutated):
        mutated[flip] ^= data.draw(st.integers(1, 255))
    codec = _codec_with_birth()
    try:
        result = codec.decode(bytes(mutated), envelope(node_topic("NBIRTH"), bytes(mutated)))
    except CodecError as exc:
        assert exc.reason in ReasonCode
    else:
        assert isinstance(result, SparkplugMessage)


def test_garbage_protobuf_is_decode_error() -> None:
    codec = SparkplugCodec()
    with pytest.raises(CodecError) as err:
        codec.decode(b"\xff\xff\xff\xff", envelope(node_topic("NDATA"), b"\xff\xff\xff\xff"))
    assert err.value.reason.value == "decode_error"


def test_wrong_field_for_datatype_and_bad_arrays_are_decode_errors() -> None:
    msg = PayloadMessage()
    m = msg.metrics.add()
    m.name, m.datatype, m.string_value = "n", int(DataType.INT32), "nope"
    with pytest.raises(CodecError):
        SparkplugCodec().decode(msg.SerializeToString(), envelope(node_topic("NBIRTH"), b""))
    msg = PayloadMessage()
    m = msg.metrics.add()
    m.name, m.datatype, m.bytes_value = "n", int(DataType.INT32_ARRAY), b"\x01\x02\x03"
    with pytest.raises(CodecError):
        SparkplugCodec().decode(msg.SerializeToString(), envelope(node_topic("NBIRTH"), b""))


def test_deeply_nested_templates_refused() -> None:
    msg = PayloadMessage()
    metric = msg.metrics.add()
    metric.name, metric.datatype = "t", int(DataType.TEMPLATE)
    tmpl = metric.template_value
    for _ in range(40):
        inner = tmpl.metrics.add()
        inner.name, inner.datatype = "t", int(DataType.TEMPLATE)
        tmpl = inner.template_value
    data = msg.SerializeToString()
    with pytest.raises(CodecError):
        SparkplugCodec().decode(data, envelope(node_topic("NBIRTH"), data))


def test_oversized_payload_refused() -> None:
    codec = SparkplugCodec(max_payload_bytes=100)
    with pytest.raises(CodecError) as err:
        codec.decode(b"\x00" * 101, envelope(node_topic("NDATA"), b""))
    assert err.value.reason.value == "payload_too_large"


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'{"online": "yes", "timestamp": 1}', b'{"online": true}']
)
def test_bad_state_payloads(body: bytes) -> None:
    with pytest.raises(CodecError):
        SparkplugCodec().decode(body, envelope("spBv1.0/STATE/h", body))


def test_seq_above_255_is_refused() -> None:
    codec = _codec_with_birth()
    data = encode_payload([], seq=300)
    with pytest.raises(CodecError):
        codec.decode(data, envelope(node_topic("NDATA"), data))


@FAST
@given(st.lists(scalar_metric(), min_size=1, max_size=8), st.integers(0, 255))
def test_columns_agree_with_models(items: list[tuple[DataType, Any]], seq: int) -> None:
    """The decoder fills columns (no model per metric); the models built from them say the same."""
    births = [
        MetricSpec(name=f"m{i}", alias=i, datatype=dt, value=v) for i, (dt, v) in enumerate(items)
    ]
    aliases = {i: (f"m{i}", int(dt)) for i, (dt, _) in enumerate(items)}
    data = [MetricSpec(alias=i, value=v, datatype=dt) for i, (dt, v) in enumerate(items)]
    for payload, resolve in ((births, None), (data, aliases.get)):
        decoded = decode_payload(encode_payload(payload, seq=seq, timestamp=T0), resolve)
        cols = decoded.columns
        rows = list(zip(cols.names, cols.aliases, cols.datatypes, cols.values, strict=True))
        assert rows == [(m.name, m.alias, m.datatype, m.value) for m in decoded.metrics]
        assert rows == [(f"m{i}", i, int(dt), v) for i, (dt, v) in enumerate(items)]
