"""Sparkplug B datatype codes, two's-complement sign handling and the 3.0 packed array layouts."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntEnum

__all__ = [
    "ARRAY_TYPES",
    "DataType",
    "pack_array",
    "to_signed",
    "to_unsigned",
    "unpack_array",
]


class DataType(IntEnum):
    """Datatype codes of Sparkplug B 3.0 (Metric.datatype, PropertyValue.type, DataSet.types)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTY_SET = 20
    PROPERTY_SET_LIST = 21
    INT8_ARRAY = 22
    INT16_ARRAY = 23
    INT32_ARRAY = 24
    INT64_ARRAY = 25
    UINT8_ARRAY = 26
    UINT16_ARRAY = 27
    UINT32_ARRAY = 28
    UINT64_ARRAY = 29
    FLOAT_ARRAY = 30
    DOUBLE_ARRAY = 31
    BOOLEAN_ARRAY = 32
    STRING_ARRAY = 33
    DATETIME_ARRAY = 34

    @property
    def spec_name(self) -> str:
        """The name used in the specification, e.g. ``Int32Array`` or ``DateTime``."""
        return _SPEC_NAMES[self]


_SPEC_NAMES = {
    DataType.UNKNOWN: "Unknown",
    DataType.INT8: "Int8",
    DataType.INT16: "Int16",
    DataType.INT32: "Int32",
    DataType.INT64: "Int64",
    DataType.UINT8: "UInt8",
    DataType.UINT16: "UInt16",
    DataType.UINT32: "UInt32",
    DataType.UINT64: "UInt64",
    DataType.FLOAT: "Float",
    DataType.DOUBLE: "Double",
    DataType.BOOLEAN: "Boolean",
    DataType.STRING: "String",
    DataType.DATETIME: "DateTime",
    DataType.TEXT: "Text",
    DataType.UUID: "UUID",
    DataType.DATASET: "DataSet",
    DataType.BYTES: "Bytes",
    DataType.FILE: "File",
    DataType.TEMPLATE: "Template",
    DataType.PROPERTY_SET: "PropertySet",
    DataType.PROPERTY_SET_LIST: "PropertySetList",
    DataType.INT8_ARRAY: "Int8Array",
    DataType.INT16_ARRAY: "Int16Array",
    DataType.INT32_ARRAY: "Int32Array",
    DataType.INT64_ARRAY: "Int64Array",
    DataType.UINT8_ARRAY: "UInt8Array",
    DataType.UINT16_ARRAY: "UInt16Array",
    DataType.UINT32_ARRAY: "UInt32Array",
    DataType.UINT64_ARRAY: "UInt64Array",
    DataType.FLOAT_ARRAY: "FloatArray",
    DataType.DOUBLE_ARRAY: "DoubleArray",
    DataType.BOOLEAN_ARRAY: "BooleanArray",
    DataType.STRING_ARRAY: "StringArray",
    DataType.DATETIME_ARRAY: "DateTimeArray",
}

# Bit width of the integer scalar types; signed ones are sign-extended from that width.
SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
UNSIGNED_BITS = {DataType.UINT8: 8, DataType.UINT16: 16, DataType.UINT32: 32, DataType.UINT64: 64}

# struct format letter (little-endian, standard sizes) of each fixed-width array element.
_ARRAY_FORMATS = {
    DataType.INT8_ARRAY: "b",
    DataType.INT16_ARRAY: "h",
    DataType.INT32_ARRAY: "i",
    DataType.INT64_ARRAY: "q",
    DataType.UINT8_ARRAY: "B",
    DataType.UINT16_ARRAY: "H",
    DataType.UINT32_ARRAY: "I",
    DataType.UINT64_ARRAY: "Q",
    DataType.FLOAT_ARRAY: "f",
    DataType.DOUBLE_ARRAY: "d",
    DataType.DATETIME_ARRAY: "q",
}

ARRAY_TYPES = frozenset(
    [*_ARRAY_FORMATS, DataType.BOOLEAN_ARRAY, DataType.STRING_ARRAY],
)

ArrayValue = list[int] | list[float] | list[bool] | list[str]


def to_signed(raw: int, bits: int) -> int:
    """Read the low ``bits`` of ``raw`` as two's complement.

    Encoders differ on Int8/Int16 (some send 0xFF for -1, others the 32-bit 0xFFFFFFFF); masking to
    the type's own width first accepts both.
    """
    value = raw & ((1 << bits) - 1)
    return value - (1 << bits) if value >> (bits - 1) else value


def to_unsigned(value: int, bits: int) -> int:
    """Two's-complement representation of ``value`` in ``bits``; raises ValueError when out of range."""
    low, high = -(1 << (bits - 1)), (1 << bits) - 1
    if not low <= value <= high:
        msg = f"{value} does not fit in {bits} bits"
        raise ValueError(msg)
    return value & ((1 << bits) - 1)


def unpack_array(datatype: DataType, data: bytes) -> ArrayValue:
    """Decode a 3.0 array from ``bytes_value``; raises ValueError on a malformed layout."""
    fmt = _ARRAY_FORMATS.get(datatype)
    if fmt is not None:
        size = struct.calcsize(fmt)
        if len(data) % size:
            msg = f"{datatype.spec_name}: {len(data)} bytes is not a multiple of {size}"
            raise ValueError(msg)
        return list(struct.unpack(f"<{len(data) // size}{fmt}", data))
    if datatype is DataType.BOOLEAN_ARRAY:
        return _unpack_booleans(data)
    if datatype is DataType.STRING_ARRAY:
        return _unpack_strings(data)
    msg = f"{datatype.spec_name} is not an array type"
    raise ValueError(msg)


def pack_array(datatype: DataType, values: Sequence[object]) -> bytes:
    """Encode ``values`` as the 3.0 ``bytes_value`` layout of ``datatype``; raises ValueError."""
    fmt = _ARRAY_FORMATS.get(datatype)
    try:
        if fmt is not None:
            return struct.pack(f"<{len(values)}{fmt}", *values)
        if datatype is DataType.BOOLEAN_ARRAY:
            bits = 0
            for flag in values:
                bits = (bits << 1) | (1 if flag else 0)
            nbytes = (len(values) + 7) // 8
            bits <<= nbytes * 8 - len(values)
            return len(values).to_bytes(4, "little") + bits.to_bytes(nbytes, "big")
        if datatype is DataType.STRING_ARRAY:
            return b"".join(str(v).encode() + b"\x00" for v in values)
    except struct.error as exc:
        msg = f"{datatype.spec_name}: {exc}"
        raise ValueError(msg) from exc
    msg = f"{datatype.spec_name} is not an array type"
    raise ValueError(msg)


def _unpack_booleans(data: bytes) -> list[bool]:
    if len(data) < 4:
        msg = "BooleanArray shorter than its 4-byte count"
        raise ValueError(msg)
    count = int.from_bytes(data[:4], "little")
    packed = data[4:]
    if (count + 7) // 8 != len(packed):
        msg = f"BooleanArray count {count} does not match {len(packed)} packed bytes"
        raise ValueError(msg)
    bits = int.from_bytes(packed, "big")
    total = len(packed) * 8
    return [bool((bits >> (total - 1 - i)) & 1) for i in range(count)]


def _unpack_strings(data: bytes) -> list[str]:
    if not data:
        return []
    if not data.endswith(b"\x00"):
        msg = "StringArray is not NUL-terminated"
        raise ValueError(msg)
    try:
        return [part.decode() for part in data[:-1].split(b"\x00")]
    except UnicodeDecodeError as exc:
        msg = f"StringArray is not UTF-8: {exc}"
        raise ValueError(msg) from exc
