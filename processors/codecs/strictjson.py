"""Strict JSON parsing shared by every JSON codec: duplicate keys and non-standard constants refused.

Python's ``json`` keeps the last of two equal keys and accepts ``NaN``/``Infinity``; both would let
a payload mean something other than what a second reader sees (docs/reliability.md B06, B07), so they are
refused here with a reason code of their own instead of being silently resolved.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.dead_letter import ReasonCode
from processors.codecs.base import FormatError

__all__ = ["StrictJsonError", "loads_strict"]


class StrictJsonError(FormatError):
    """The document is JSON but ambiguous; ``reason`` is the dead-letter code to use."""

    def __init__(self, message: str, reason: ReasonCode) -> None:
        super().__init__(message)
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        msg = f"duplicate JSON key {dup[:80]!r}"
        raise StrictJsonError(msg, ReasonCode.DUPLICATE_KEY)
    return doc


def _constant(name: str) -> Any:
    msg = f"non-standard JSON constant {name}"
    raise StrictJsonError(msg, ReasonCode.VALUE_NOT_FINITE)


def loads_strict(data: bytes | str) -> Any:
    """``json.loads`` that raises StrictJsonError on a duplicate key or NaN/Infinity."""
    return json.loads(data, object_pairs_hook=_pairs, parse_constant=_constant)
