"""Sparkplug B payload encoding, for the simulators and for the host's rebirth commands.

``encode_payload`` builds any payload from ``MetricSpec`` items; ``birth_payload``,
``death_payload`` and ``rebirth_command_payload`` add what the specification requires of NBIRTH,
NDEATH and a ``Node Control/Rebirth`` NCMD. Values are given in their natural Python form (negative
ints, lists for arrays, ``datetime`` or ms for DateTime, a ``DataSet`` model) and are converted to
the wire form here. Invalid specs raise ValueError (this is a producer-side API, not a codec).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.codecs.sparkplug.datatypes import (
    ARRAY_TYPES,
    SIGNED_BITS,
    UNSIGNED_BITS,
    DataType,
    pack_array,
    to_unsigned,
)
from processors.codecs.sparkplug.models import DataSet
from processors.codecs.sparkplug.payload import PayloadMessage

__all__ = [
    "BD_SEQ_METRIC",
    "REBIRTH_METRIC",
    "MetricSpec",
    "birth_payload",
    "death_payload",
    "encode_payload",
    "rebirth_command_payload",
]

BD_SEQ_METRIC = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric to encode. Omit ``name`` in DATA to send the alias only; ``datatype`` is a code."""

    name: str | None = None
    value: Any = None
    datatype: DataType | int = DataType.UNKNOWN
    alias: int | None = None
    timestamp: int | None = None
    is_historical: bool = False
    is_transient: bool = False
    is_null: bool = False
    include_datatype: bool = True
    properties: Mapping[str, tuple[int, Any]] = field(default_factory=dict)


def encode_payload(
    metrics: Iterable[MetricSpec] = (),
    *,
    timestamp: int | None = None,
    seq: int | None = None,
    uuid: str | None = None,
    body: bytes | None = None,
) -> bytes:
    """Serialize a payload. ``timestamp`` defaults to now (ms); ``seq`` is omitted when None."""
    message = PayloadMessage()
    message.timestamp = int(time.time() * 1000) if timestamp is None else timestamp
    if seq is not None:
        message.seq = seq
    if uuid is not None:
        message.uuid = uuid
    if body is not None:
        message.body = body
    for spec in metrics:
        _fill_metric(message.metrics.add(), spec)
    data: bytes = message.SerializeToString()
    return data


def birth_payload(
    metrics: Sequence[MetricSpec],
    *,
    bd_seq: int | None = None,
    seq: int = 0,
    timestamp: int | None = None,
) -> bytes:
    """An NBIRTH (with ``bd_seq``: adds ``bdSeq`` and ``Node Control/Rebirth``) or a DBIRTH."""
    extra: list[MetricSpec] = []
    if bd_seq is not None:
        extra = [
            MetricSpec(name=BD_SEQ_METRIC, value=bd_seq, datatype=DataType.INT64),
            MetricSpec(name=REBIRTH_METRIC, value=False, datatype=DataType.BOOLEAN),
        ]
    return encode_payload([*extra, *metrics], timestamp=timestamp, seq=seq)


def death_payload(bd_seq: int, *, timestamp: int | None = None) -> bytes:
    """An NDEATH (the edge node's MQTT Will): only the ``bdSeq`` metric, no ``seq``."""
    spec = MetricSpec(name=BD_SEQ_METRIC, value=bd_seq, datatype=DataType.INT64)
    return encode_payload([spec], timestamp=timestamp)


def rebirth_command_payload(*, timestamp: int | None = None) -> bytes:
    """An NCMD asking the edge node to publish its births again."""
    spec = MetricSpec(name=REBIRTH_METRIC, value=True, datatype=DataType.BOOLEAN)
    return encode_payload([spec], timestamp=timestamp)


def _fill_metric(m: Any, spec: MetricSpec) -> None:
    dt = DataType(spec.datatype)
    if spec.name is not None:
        m.name = spec.name
    if spec.alias is not None:
        m.alias = spec.alias
    if spec.timestamp is not None:
        m.timestamp = spec.timestamp
    if spec.include_datatype:
        m.datatype = dt
    if spec.is_historical:
        m.is_historical = True
    if spec.is_transient:
        m.is_transient = True
    for key, (ptype, pvalue) in spec.properties.items():
        m.properties.keys.append(key)
        pv = m.properties.values.add()
        pv.type = ptype
        _set_scalar(pv, DataType(ptype), pvalue, int_field="int_value")
    if spec.is_null or spec.value is None:
        m.is_null = True
        return
    value = spec.value
    if dt in ARRAY_TYPES:
        if dt == DataType.DATETIME_ARRAY:
            value = [_millis(v) for v in value]
        m.bytes_value = pack_array(dt, value)
    elif dt in (DataType.BYTES, DataType.FILE):
        m.bytes_value = bytes(value)
    elif dt == DataType.DATASET:
        _fill_dataset(m.dataset_value, value)
    elif dt == DataType.TEMPLATE:
        msg = "Template encoding is not supported by this helper"
        raise ValueError(msg)
    else:
        _set_scalar(m, dt, value, int_field="int_value")


def _set_scalar(target: Any, dt: DataType, value: Any, *, int_field: str) -> None:
    """Write a scalar into the oneof of a Metric/PropertyValue/DataSetValue."""
    long_field = "long_value"
    if dt in SIGNED_BITS:
        bits = SIGNED_BITS[dt]
        wire = to_unsigned(int(value), bits)
        if bits < 64:
            # Sign-extend to 32 bits on the wire, as the reference implementations do.
            wire = to_unsigned(int(value), 32) if int(value) < 0 else wire
            setattr(target, int_field, wire)
        else:
            setattr(target, long_field, wire)
    elif dt in UNSIGNED_BITS:
        bits = UNSIGNED_BITS[dt]
        if not 0 <= int(value) < (1 << bits):
            msg = f"{value} out of range for {dt.spec_name}"
            raise ValueError(msg)
        setattr(target, int_field if bits < 64 else long_field, int(value))
    elif dt == DataType.FLOAT:
        target.float_value = float(value)
    elif dt == DataType.DOUBLE:
        target.double_value = float(value)
    elif dt == DataType.BOOLEAN:
        target.boolean_value = bool(value)
    elif dt in (DataType.STRING, DataType.TEXT, DataType.UUID):
        target.string_value = str(value)
    elif dt == DataType.DATETIME:
        target.long_value = _millis(value)
    else:
        msg = f"{dt.spec_name} is not a scalar datatype"
        raise ValueError(msg)


def _fill_dataset(ds: Any, value: DataSet) -> None:
    ds.num_of_columns = len(value.columns)
    ds.columns.extend(value.columns)
    ds.types.extend(value.types)
    for row in value.rows:
        pb_row = ds.rows.add()
        for cell, ctype in zip(row, value.types, strict=True):
            element = pb_row.elements.add()
            if cell is not None:
                _set_scalar(element, DataType(ctype), cell, int_field="int_value")


def _millis(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)
