"""Canonical form of logged rows: deterministic JSON bytes, hashed with SHA-256.

Rules (documented in docs/provenance.md): objects with keys sorted by code point, no insignificant
whitespace, UTF-8 strings escaped as JSON does (non-ASCII kept literal), integers in decimal, doubles
in Python's shortest round-trip form (``repr``; NaN and infinities refused), booleans and null as
JSON, timestamps as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` strings. Column types are fixed by the
catalog, so an integer and a double never meet in the same field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["CanonicalError", "canonical_bytes", "iso_utc", "sha256_hex", "to_json_types"]


class CanonicalError(ValueError):
    """A value has no canonical form (non-finite double, naive timestamp, unsupported type)."""


def iso_utc(value: datetime) -> str:
    """Timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive timestamps are refused."""
    if value.tzinfo is None:
        msg = f"naive timestamp {value!r} has no canonical form"
        raise CanonicalError(msg)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json_types(value: Any) -> Any:
    """Convert a row value to plain JSON types (timestamps become canonical strings)."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_types(v) for v in value]
    return value


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            msg = f"non-finite double {value!r} has no canonical form"
            raise CanonicalError(msg)
        out.append(repr(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, datetime):
        out.append(json.dumps(iso_utc(value)))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(value, key=str)):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        msg = f"type {type(value).__name__} has no canonical form"
        raise CanonicalError(msg)


def canonical_bytes(value: Any) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (see module docstring)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
