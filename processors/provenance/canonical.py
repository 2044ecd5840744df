"""Canonical form of logged rows: deterministic JSON bytes, hashed with SHA-256.

Rules (documented in docs/provenance.md): objects with keys sorted by code point, no insignificant
whitespace, UTF-8 strings escaped as JSON does (non-ASCII kept literal), integers in decimal, doubles
in Python's shortest round-trip form (``repr``; NaN and infinities refused), booleans and null as
JSON, timestamps as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` strings. Column types are fixed by the
catalog, so an integer and a double never meet in the same field.

``canonical_bytes`` runs the C JSON encoder, whose output for string-keyed documents of these types
is byte-identical to the reference encoder ``reference_bytes`` kept here (unit tests compare the two);
anything the fast path cannot encode goes through the reference encoder, so errors are the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from processors.exceptions import ProcessorError

__all__ = [
    "CanonicalError",
    "canonical_bytes",
    "iso_utc",
    "reference_bytes",
    "sha256_hex",
    "to_json_types",
]

# JSON string escaping with non-ASCII kept literal: the C version of json.dumps(s, ensure_ascii=False).
_string = encode_basestring


class CanonicalError(ProcessorError):
    """A value has no canonical form (non-finite double, naive timestamp, unsupported type)."""


# Recent results of iso_utc: a batch repeats the same instants (its ingested_at on every row, a
# record's observed_at in its row and its leaf). Aware datetimes compare by instant, and equal
# instants have equal UTC text, so keying by value is safe. Bounded by clearing.
_ISO_CACHE: dict[datetime, str] = {}
_ISO_CACHE_MAX = 8192


def iso_utc(value: datetime) -> str:
    """Timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive timestamps are refused."""
    hit = _ISO_CACHE.get(value)
    if hit is not None:
        return hit
    if len(_ISO_CACHE) >= _ISO_CACHE_MAX:
        _ISO_CACHE.clear()
    text = _ISO_CACHE[value] = _iso_utc(value)
    return text


def _iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        msg = f"naive timestamp {value!r} has no canonical form"
        raise CanonicalError(msg)
    # Already-UTC values (any zero-offset tzinfo) skip the conversion, the common case by far.
    u = value.astimezone(UTC) if value.utcoffset() else value
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


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
    # Ordered by frequency in table rows: this runs for every column of every logged row.
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, float):
        if not math.isfinite(value):
            msg = f"non-finite double {value!r} has no canonical form"
            raise CanonicalError(msg)
        out.append(repr(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, datetime):
        out.append(_string(iso_utc(value)))
    elif isinstance(value, dict | Mapping):
        out.append("{")
        for i, key in enumerate(sorted(value, key=str)):
            if i:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple | Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        msg = f"type {type(value).__name__} has no canonical form"
        raise CanonicalError(msg)


def reference_bytes(value: Any) -> bytes:
    """The canonical bytes by the straightforward reference encoder (slow; the definition)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def _fast_default(value: Any) -> Any:
    # Called by the C encoder for types it does not know; mirrors _encode's handling of them.
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return list(value)
    msg = f"type {type(value).__name__} has no canonical form"
    raise CanonicalError(msg)


# Sorted keys, no whitespace, non-ASCII literal, floats by repr, NaN/inf refused (ValueError,
# which canonical_bytes answers with the reference encoder's CanonicalError).
_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"),
    default=_fast_default, check_circular=False,
)  # fmt: skip
# JSONEncoder.encode builds a new C encoder on every call; build it once (no circularity markers:
# like the reference encoder, a cyclic document ends in RecursionError).
_c_make = getattr(json.encoder, "c_make_encoder", None)
_c_encode = (
    _c_make(None, _fast_default, _string, None, ":", ",", True, False, False) if _c_make else None
)


def _fast(value: Any) -> str:
    if _c_encode is None:
        return _encoder.encode(value)
    return "".join(_c_encode(value, 0))


def canonical_bytes(value: Any) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (see module docstring)."""
    try:
        return _fast(value).encode("utf-8")
    except (CanonicalError, ValueError, TypeError):
        # Non-finite doubles and other refusals: the reference encoder raises the precise error.
        return reference_bytes(value)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
