"""Small helpers over asn1tools values shared by the extractors (no units here; see ``scale``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["bit_names", "bit_string_int", "epoch_ms_to_datetime", "node_id"]


def epoch_ms_to_datetime(ms: int) -> datetime | None:
    """UTC datetime of epoch milliseconds; None for the -1 'unresolved' marker."""
    if ms < 0:
        return None
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def node_id(ref: dict[str, Any]) -> str:
    """Text form of a NodeReferenceID: ``<region>-<id>``, or ``<id>`` without a region."""
    if ref.get("region") is not None:
        return f"{ref['region']}-{ref['id']}"
    return str(ref["id"])


def bit_string_int(value: tuple[bytes, int]) -> int:
    """An asn1tools BIT STRING value ``(bytes, bit_count)`` as an integer, bit 0 the most significant."""
    data, count = value
    return int.from_bytes(data, "big") >> (len(data) * 8 - count) if data else 0


def bit_names(value: tuple[bytes, int], names: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the set bits of an asn1tools BIT STRING value (bit 0 = MSB of the first octet)."""
    count = value[1]
    as_int = bit_string_int(value)
    return tuple(n for i, n in enumerate(names[:count]) if as_int >> (count - 1 - i) & 1)
