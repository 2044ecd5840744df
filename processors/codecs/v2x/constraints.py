"""Check a MessageFrame value against its ASN.1 types and constraints without encoding it.

JSON renderings become the same value as a UPER decode; they are checked here instead of through a
UPER encode (which cost a third of the V2X time). The checker is a tree of closures built once per
edition from asn1tools' compiled UPER types, so it follows the modules exactly: a value passes
here if and only if asn1tools would encode it with ``check_constraints=True`` (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

from asn1tools.codecs import per, uper

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.exceptions import ProcessorError

__all__ = ["check_frame"]


class _Invalid(ProcessorError):
    """A value off its type; the message names the path (becomes a CodecError in ``check_frame``)."""


# A path is built lazily as nested (parent, step) pairs, a step being ".member" or an index: the
# text is formed only when a value fails, not for every value checked.
Path = str | tuple[Any, str | int]
Check = Callable[[Any, Path], None]


def _render(path: Path) -> str:
    steps: list[str] = []
    while isinstance(path, tuple):
        path, step = path
        steps.append(f"[{step}]" if isinstance(step, int) else step)
    return path + "".join(reversed(steps))


def _fail(path: Path, text: str) -> NoReturn:
    msg = f"{_render(path)}: {text}"
    raise _Invalid(msg)


def _integer(t: Any) -> Check:
    low, high = t.minimum, t.maximum

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, int):
            _fail(path, f"{type(v).__name__} is not an INTEGER")
        if low is not None and not low <= v <= high and not t.has_extension_marker:
            _fail(path, f"{v} outside {low}..{high}")

    return check


def _enumerated(t: Any) -> Check:
    names = frozenset(t.root_index_to_data.values())

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, str) or v not in names:
            _fail(path, f"{v!r} is not one of {', '.join(sorted(names))}")

    return check


def _sequence(t: Any) -> Check:
    members = tuple((m.name, m.optional or m.default is not None, _build(m), f".{m.name}")
                    for m in t.root_members)

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, dict):
            _fail(path, f"{type(v).__name__} is not a SEQUENCE")
        for name, optional, inner, step in members:
            if name in v:
                inner(v[name], (path, step))
            elif not optional:
                _fail(path, f"member {name} is missing")

    return check


def _choice(t: Any) -> Check:
    members = {m.name: _build(m) for m in t.root_index_to_member.values()}

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, tuple) or len(v) != 2 or v[0] not in members:
            _fail(path, f"{v!r} is not one of the alternatives {', '.join(members)}")
        members[v[0]](v[1], (path, f".{v[0]}"))

    return check


def _sized(t: Any, always: bool) -> tuple[int, int | float]:
    """Size bounds to enforce: none when an extension lets the encoder carry any size."""
    if t.has_extension_marker and not always:
        return 0, float("inf")
    return t.minimum, t.maximum if t.maximum is not None else float("inf")


def _sequence_of(t: Any) -> Check:
    low, high = _sized(t, always=False)
    element = _build(t.element_type)

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, list):
            _fail(path, f"{type(v).__name__} is not a SEQUENCE OF")
        if not low <= len(v) <= high:
            _fail(path, f"{len(v)} elements outside {low}..{high}")
        for i, item in enumerate(v):
            element(item, (path, i))

    return check


def _octets(t: Any) -> Check:
    low, high = _sized(t, always=False)

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, bytes | bytearray):
            _fail(path, f"{type(v).__name__} is not an OCTET STRING")
        if not low <= len(v) <= high:
            _fail(path, f"{len(v)} octets outside {low}..{high}")

    return check


def _bits(t: Any) -> Check:
    low, high = _sized(t, always=True)

    def check(v: Any, path: Path) -> None:
        ok = isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], bytes | bytearray)
        if not ok or not isinstance(v[1], int) or len(v[0]) * 8 < v[1]:
            _fail(path, f"{v!r} is not a BIT STRING (bytes, bit count)")
        if not low <= v[1] <= high:
            _fail(path, f"{v[1]} bits outside {low}..{high}")

    return check


def _ia5(t: Any) -> Check:
    low, high = _sized(t, always=True)

    def check(v: Any, path: Path) -> None:
        if not isinstance(v, str) or not v.isascii():
            _fail(path, f"{v!r} is not an IA5String")
        if not low <= len(v) <= high:
            _fail(path, f"{len(v)} characters outside {low}..{high}")

    return check


_BUILDERS: tuple[tuple[type, Callable[[Any], Check]], ...] = (
    (uper.Integer, _integer),
    (per.Enumerated, _enumerated),
    (per.Sequence, _sequence),
    (uper.Choice, _choice),
    (uper.SequenceOf, _sequence_of),
    (uper.OctetString, _octets),
    (uper.BitString, _bits),
    (uper.IA5String, _ia5),
)


def _build(t: Any) -> Check:
    for kind, builder in _BUILDERS:
        if isinstance(t, kind):
            return builder(t)
    msg = f"no constraint check for {type(t).__name__} {t.name!r}"
    raise NotImplementedError(msg)


@functools.cache
def _frame_checker(edition: str) -> Check:
    from processors.codecs.v2x.schema import FRAME_TYPE, specification

    return _build(specification(edition, "uper").types[FRAME_TYPE]._type)  # noqa: SLF001


def check_frame(choice: tuple[str, Any], edition: str) -> None:
    """Raise CodecError(SCHEMA_INVALID) unless ``choice`` fits ``edition``'s MessageFrame."""
    try:
        _frame_checker(edition)(choice, "MessageFrame")
    except _Invalid as exc:
        msg = f"{choice[0]} does not fit {edition}: {exc}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg) from exc
