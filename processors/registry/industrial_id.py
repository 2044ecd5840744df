"""Industrial Internet identifiers (工业互联网标识解析), Handle style ``<prefix>/<suffix>``.

Example: ``88.1000.2/cup`` - prefix ``88.1000.2`` allocated through the node hierarchy (national
top-level node, secondary node, enterprise node), suffix defined by sector rules. Only the shape is
validated: a dotted prefix whose first segment is numeric, ``/``, a non-empty printable suffix.
The meaning of the segments after the root is not confirmed by a primary text, so the
``secondary_node`` / ``enterprise`` accessors are conventions, not standard semantics. Roots are
never assumed: pass ``allowed_roots`` (e.g. ``{"88"}``) to restrict them. Other coexisting schemes
(Ecode GB/T 31866, OID 1.2.156) are not accepted here.

Identifiers are device attributes taken from the registry; they are never resolved in the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "IdentifierError",
    "IndustrialId",
    "IndustrialIdStr",
    "identifier_problem",
    "is_valid_industrial_id",
    "parse_industrial_id",
]

MAX_IDENTIFIER_LENGTH = 512
_ROOT = re.compile(r"[0-9]{1,10}")
_SEGMENT = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
# Printable, no whitespace: suffixes are printed in QR codes and used as keys.
_SUFFIX = re.compile(r"[^\s\x00-\x1f\x7f]+")


class IdentifierError(CodecError):
    """The text is not a valid industrial identifier (reason ``schema_invalid``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.SCHEMA_INVALID, detail)


@dataclass(frozen=True, slots=True)
class IndustrialId:
    """A parsed identifier; ``str()`` gives the original text back."""

    prefix: str
    suffix: str
    prefix_parts: tuple[str, ...]
    scheme: str = "handle"

    @property
    def root(self) -> str:
        """First prefix segment: the top-level allocation (``88`` for the national system)."""
        return self.prefix_parts[0]

    @property
    def secondary_node(self) -> str | None:
        """Second prefix segment, by convention the secondary (industry/regional) node code."""
        return self.prefix_parts[1] if len(self.prefix_parts) > 1 else None

    @property
    def enterprise(self) -> str | None:
        """Remaining prefix segments joined, by convention the enterprise code."""
        return ".".join(self.prefix_parts[2:]) or None

    def __str__(self) -> str:
        return f"{self.prefix}/{self.suffix}"


def parse_industrial_id(text: str, *, allowed_roots: Collection[str] | None = None) -> IndustrialId:
    """Validate and split an identifier; raises IdentifierError (a CodecError) when invalid."""
    if not isinstance(text, str):
        msg = f"identifier must be a string, got {type(text).__name__}"
        raise IdentifierError(msg)
    if not text or len(text) > MAX_IDENTIFIER_LENGTH:
        msg = f"identifier length {len(text)} outside 1-{MAX_IDENTIFIER_LENGTH}"
        raise IdentifierError(msg)
    prefix, slash, suffix = text.partition("/")
    if not slash or not suffix:
        msg = f"{text!r}: expected <prefix>/<suffix> with a non-empty suffix"
        raise IdentifierError(msg)
    parts = tuple(prefix.split("."))
    if len(parts) < 2:
        msg = f"{text!r}: prefix {prefix!r} needs at least two dotted segments"
        raise IdentifierError(msg)
    if not _ROOT.fullmatch(parts[0]):
        msg = f"{text!r}: prefix root {parts[0]!r} is not numeric"
        raise IdentifierError(msg)
    bad = [p for p in parts[1:] if not _SEGMENT.fullmatch(p)]
    if bad:
        msg = f"{text!r}: invalid prefix segment {bad[0]!r}"
        raise IdentifierError(msg)
    if allowed_roots is not None and parts[0] not in allowed_roots:
        msg = f"{text!r}: root {parts[0]!r} not in the allowed roots {sorted(allowed_roots)}"
        raise IdentifierError(msg)
    if not _SUFFIX.fullmatch(suffix):
        msg = f"{text!r}: suffix contains whitespace or control characters"
        raise IdentifierError(msg)
    return IndustrialId(prefix=prefix, suffix=suffix, prefix_parts=parts)


def is_valid_industrial_id(text: str, *, allowed_roots: Collection[str] | None = None) -> bool:
    """True when ``parse_industrial_id`` accepts ``text``."""
    try:
        parse_industrial_id(text, allowed_roots=allowed_roots)
    except IdentifierError:
        return False
    return True


def identifier_problem(text: str) -> str | None:
    """Why ``text`` is not a valid identifier (for registry validation messages), or None."""
    try:
        parse_industrial_id(text)
    except IdentifierError as exc:
        return exc.detail
    return None


def _pydantic_check(text: str) -> str:
    try:
        parse_industrial_id(text)
    except IdentifierError as exc:
        raise ValueError(exc.detail) from exc
    return text


IndustrialIdStr = Annotated[str, AfterValidator(_pydantic_check)]
"""A ``str`` field type for pydantic models (e.g. the device registry) that validates the shape."""
