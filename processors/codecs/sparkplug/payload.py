"""Sparkplug B protobuf payload to typed models (pure; no host state).

Every malformed input raises ``PayloadError`` (a FormatError); the codec turns it into a CodecError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from processors.codecs.base import FormatError
from processors.codecs.sparkplug import sparkplug_b_pb2 as pb
from processors.codecs.sparkplug.datatypes import (
    ARRAY_TYPES,
    SIGNED_BITS,
    UNSIGNED_BITS,
    DataType,
    to_signed,
    unpack_array,
)
from processors.codecs.sparkplug.models import (
    CellValue,
    DataSet,
    MetaData,
    Metric,
    MetricColumns,
    MetricValue,
    PropertySet,
    PropertyValue,
    Template,
    TemplateParameter,
)

__all__ = ["MAX_NESTING", "AliasResolver", "DecodedPayload", "PayloadError", "decode_payload"]

# Templates and property sets nest; real payloads use a few levels, so deeper input is refused.
MAX_NESTING = 16
_MAX_CODE = max(DataType)

AliasResolver = Callable[[int], "tuple[str, int] | None"]


# The generated class has no type stubs; treat protobuf messages as Any in this package.
PayloadMessage: Any = pb.Payload  # type: ignore[attr-defined]


class PayloadError(FormatError):
    """The bytes are not a valid Sparkplug B payload."""


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """Payload fields plus typed metrics as columns; ``unresolved_aliases`` lists aliases without a name."""

    timestamp: int | None
    seq: int | None
    uuid: str | None
    body: bytes | None
    columns: MetricColumns
    unresolved_aliases: tuple[int, ...]

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The metrics as ``Metric`` models (built on demand from the columns)."""
        return self.columns.to_metrics()


def parse_protobuf(data: bytes) -> Any:
    """Parse the raw protobuf ``Payload``; raises PayloadError on any wire-format problem."""
    message = PayloadMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        msg = f"not a Sparkplug B protobuf payload: {exc}"
        raise PayloadError(msg) from exc
    return message


def decode_payload(data: Any, resolve: AliasResolver | None = None) -> DecodedPayload:
    """Decode a payload (bytes or a parsed message); ``resolve`` maps an alias to (name, datatype)."""
    message = parse_protobuf(bytes(data)) if isinstance(data, bytes | bytearray) else data
    unresolved: list[int] = []
    columns = _columns(message.metrics, resolve, unresolved, 0)
    fields = {f.number: v for f, v in message.ListFields()}
    return DecodedPayload(
        timestamp=fields.get(1),
        seq=fields.get(3),
        uuid=_text(fields[4], "uuid") if 4 in fields else None,
        body=fields.get(5),
        columns=columns,
        unresolved_aliases=tuple(unresolved),
    )


# Metric field numbers (sparkplug_b.proto); the value oneof is 10..19, named here by number.
_NAME, _ALIAS, _TIMESTAMP, _DATATYPE, _HISTORICAL, _TRANSIENT, _NULL, _METADATA, _PROPS = range(
    1, 10
)
_VALUE_FIELDS = {
    10: "int_value", 11: "long_value", 12: "float_value", 13: "double_value",
    14: "boolean_value", 15: "string_value", 16: "bytes_value", 17: "dataset_value",
    18: "template_value", 19: "extension_value",
}  # fmt: skip
_FLOATING = frozenset({DataType.FLOAT, DataType.DOUBLE})
_FLOAT_FIELDS = frozenset({12, 13})
_FIRST_VALUE = 10


def _columns(
    metrics: Any, resolve: AliasResolver | None, unresolved: list[int], depth: int
) -> MetricColumns:
    """Decode repeated ``Metric`` messages into columns.

    One ``ListFields`` per metric (upb hands over exactly the fields present, as ``HasField`` would
    tell) instead of a presence test and an attribute read per field, and no model per metric.
    """
    if depth > MAX_NESTING and len(metrics):
        msg = f"metrics nested deeper than {MAX_NESTING} levels"
        raise PayloadError(msg)
    cols = MetricColumns()
    for index, m in enumerate(metrics):
        name = alias = timestamp = metadata = props = None
        raw: Any = None
        datatype = number = 0
        historical = transient = null = False
        for f, v in m.ListFields():
            n = f.number
            if n >= _FIRST_VALUE:
                number, raw = n, v
            elif n == _NAME:
                name = _text(v, "metric name")
            elif n == _ALIAS:
                alias = v
            elif n == _TIMESTAMP:
                timestamp = v
            elif n == _DATATYPE:
                datatype = v
            elif n == _HISTORICAL:
                historical = v
            elif n == _TRANSIENT:
                transient = v
            elif n == _NULL:
                null = v
            elif n == _METADATA:
                metadata = v
            elif n == _PROPS:
                props = v
        if (name is None or not datatype) and alias is not None:
            known = resolve(alias) if resolve is not None else None
            if known is None:
                if name is None:
                    unresolved.append(alias)
            else:
                name = name if name is not None else known[0]
                datatype = datatype or known[1]
        if datatype > _MAX_CODE:
            msg = f"metric {name or alias!r}: unknown datatype code {datatype}"
            raise PayloadError(msg)
        value: MetricValue = None
        if not null and number:
            if datatype in _FLOATING and number in _FLOAT_FIELDS:
                value = float(raw)  # the common case, without the general dispatch
            else:
                try:
                    value = _value(_VALUE_FIELDS[number], raw, datatype, unresolved, depth)
                except PayloadError as exc:
                    msg = f"metric {name or alias!r}: {exc}"
                    raise PayloadError(msg) from exc
        cols.names.append(name)
        cols.aliases.append(alias)
        cols.datatypes.append(datatype)
        cols.timestamps.append(timestamp)
        cols.values.append(value)
        cols.is_null.append(null)
        cols.is_historical.append(historical)
        cols.is_transient.append(transient)
        if metadata is not None or props is not None:
            cols.extras[index] = (
                _metadata(metadata) if metadata is not None else None,
                _property_set(props, depth + 1) if props is not None else None,
            )
    return cols


def _value(field: str, raw: Any, datatype: int, unresolved: list[int], depth: int) -> MetricValue:
    if field == "extension_value":
        msg = "extension values are not supported"
        raise PayloadError(msg)
    if datatype in ARRAY_TYPES:
        _expect(field, ("bytes_value",), datatype)
        try:
            return unpack_array(DataType(datatype), raw)
        except ValueError as exc:
            raise PayloadError(str(exc)) from exc
    if datatype == DataType.DATASET:
        _expect(field, ("dataset_value",), datatype)
        return _dataset(raw)
    if datatype == DataType.TEMPLATE:
        _expect(field, ("template_value",), datatype)
        return _template(raw, unresolved, depth + 1)
    if datatype in (DataType.BYTES, DataType.FILE):
        _expect(field, ("bytes_value",), datatype)
        return bytes(raw)
    if datatype in (DataType.PROPERTY_SET, DataType.PROPERTY_SET_LIST):
        msg = f"datatype {datatype} is only valid for properties"
        raise PayloadError(msg)
    if datatype == DataType.UNKNOWN:
        # Alias unknown and no datatype sent: keep the raw wire value, typed by its field.
        if field == "dataset_value":
            return _dataset(raw)
        if field == "template_value":
            return _template(raw, unresolved, depth + 1)
        unknown: MetricValue = bytes(raw) if field == "bytes_value" else raw
        return unknown
    cell: MetricValue = _scalar(field, raw, datatype)
    return cell


def _text(value: Any, what: str) -> str:
    """A protobuf string field as str: proto2 hands over invalid UTF-8 as bytes (found by fuzzing)."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError as exc:
            msg = f"{what} is not valid UTF-8"
            raise PayloadError(msg) from exc
    return str(value)


def _scalar(field: str, raw: Any, datatype: int) -> CellValue:
    """Typed scalar from a oneof field, shared by metrics, dataset cells, properties, parameters."""
    bits = SIGNED_BITS.get(datatype)  # type: ignore[call-overload]
    if bits is not None:
        _expect(field, ("int_value", "long_value"), datatype)
        return to_signed(raw, bits)
    bits = UNSIGNED_BITS.get(datatype)  # type: ignore[call-overload]
    if bits is not None:
        _expect(field, ("int_value", "long_value"), datatype)
        if raw >> bits:
            msg = f"{raw} out of range for {DataType(datatype).spec_name}"
            raise PayloadError(msg)
        return int(raw)
    if datatype in (DataType.FLOAT, DataType.DOUBLE):
        _expect(field, ("float_value", "double_value"), datatype)
        return float(raw)
    if datatype == DataType.BOOLEAN:
        _expect(field, ("boolean_value",), datatype)
        return bool(raw)
    if datatype in (DataType.STRING, DataType.TEXT, DataType.UUID):
        _expect(field, ("string_value",), datatype)
        return _text(raw, "string value")
    if datatype == DataType.DATETIME:
        _expect(field, ("long_value", "int_value"), datatype)
        return int(raw)
    if datatype == DataType.UNKNOWN and field in _SCALAR_FIELDS:
        return raw  # type: ignore[no-any-return]
    msg = f"datatype {datatype} cannot hold a {field}"
    raise PayloadError(msg)


_SCALAR_FIELDS = frozenset(
    {"int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value"}
)


def _expect(field: str, allowed: tuple[str, ...], datatype: int) -> None:
    if field not in allowed:
        msg = f"{DataType(datatype).spec_name} value sent in {field}"
        raise PayloadError(msg)


def _dataset(ds: Any) -> DataSet:
    columns = tuple(ds.columns)
    types = tuple(ds.types)
    if len(types) != len(columns) or (
        ds.HasField("num_of_columns") and ds.num_of_columns != len(columns)
    ):
        msg = "DataSet column names, types and num_of_columns disagree"
        raise PayloadError(msg)
    rows = []
    for row in ds.rows:
        if len(row.elements) != len(columns):
            msg = f"DataSet row has {len(row.elements)} cells for {len(columns)} columns"
            raise PayloadError(msg)
        cells: list[CellValue] = []
        for cell, ctype in zip(row.elements, types, strict=True):
            field = cell.WhichOneof("value")
            if field is None:
                cells.append(None)
            elif field == "extension_value":
                msg = "DataSet extension values are not supported"
                raise PayloadError(msg)
            else:
                cells.append(_scalar(field, getattr(cell, field), ctype))
        rows.append(tuple(cells))
    return DataSet.model_construct(columns=columns, types=types, rows=tuple(rows))


def _template(t: Any, unresolved: list[int], depth: int) -> Template:
    if depth > MAX_NESTING:
        msg = f"templates nested deeper than {MAX_NESTING} levels"
        raise PayloadError(msg)
    params = []
    for p in t.parameters:
        field = p.WhichOneof("value")
        value: CellValue = None
        if field is not None and field != "extension_value":
            value = _scalar(field, getattr(p, field), p.type)
        params.append(
            TemplateParameter.model_construct(
                name=p.name if p.HasField("name") else None, type=p.type, value=value
            )
        )
    return Template.model_construct(
        version=t.version if t.HasField("version") else None,
        template_ref=t.template_ref if t.HasField("template_ref") else None,
        is_definition=t.is_definition,
        # Template members carry their own names; outer aliases do not apply inside.
        metrics=_columns(t.metrics, None, unresolved, depth + 1).to_metrics(),
        parameters=tuple(params),
    )


def _metadata(md: Any) -> MetaData:
    fields = {f.name: v for f, v in md.ListFields()}
    return MetaData.model_construct(**{k: fields.get(k) for k in MetaData.model_fields})


def _property_set(ps: Any, depth: int) -> PropertySet:
    if depth > MAX_NESTING:
        msg = f"property sets nested deeper than {MAX_NESTING} levels"
        raise PayloadError(msg)
    if len(ps.keys) != len(ps.values):
        msg = "PropertySet keys and values differ in length"
        raise PayloadError(msg)
    values: dict[str, PropertyValue] = {}
    for key, pv in zip(ps.keys, ps.values, strict=True):
        field = pv.WhichOneof("value")
        value: Any = None
        if pv.is_null or field is None:
            value = None
        elif field == "propertyset_value":
            value = _property_set(pv.propertyset_value, depth + 1)
        elif field == "propertysets_value":
            value = tuple(_property_set(s, depth + 1) for s in pv.propertysets_value.propertyset)
        elif field == "extension_value":
            msg = "property extension values are not supported"
            raise PayloadError(msg)
        else:
            value = _scalar(field, getattr(pv, field), pv.type)
        values[key] = PropertyValue.model_construct(type=pv.type, is_null=pv.is_null, value=value)
    return PropertySet.model_construct(values=values)
