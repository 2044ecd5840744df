"""Random valid MessageFrame values of one alternative, drawn from the compiled ASN.1 type tree.

Sizes of lists and strings stay near their lower bound so that 10,000 frames encode in seconds;
every optional member, CHOICE alternative, enumeration name and integer range is reachable.
"""

from __future__ import annotations

import random
from typing import Any

from asn1tools.codecs import per, uper

from processors.codecs.v2x.schema import FRAME_TYPE, specification

__all__ = ["random_frame"]

_EXTRA_ITEMS = 1  # list lengths within [min, min + 1]
_EXTRA_CHARS = 6


def _length(rng: random.Random, t: Any, extra: int) -> int:
    return rng.randint(t.minimum, min(t.maximum, t.minimum + extra))


def _integer(rng: random.Random, t: Any) -> int:
    # the bounds are where encoders slip, so give them extra weight
    pick = rng.random()
    if pick < 0.1:
        return int(t.minimum)
    if pick < 0.2:
        return int(t.maximum)
    return rng.randint(t.minimum, t.maximum)


def _value(rng: random.Random, t: Any) -> Any:
    if isinstance(t, uper.Integer):
        return _integer(rng, t)
    if isinstance(t, per.Enumerated):
        return rng.choice(list(t.root_index_to_data.values()))
    if isinstance(t, per.Sequence):
        return {m.name: _value(rng, m) for m in t.root_members if not m.optional or rng.random() < 0.5}
    if isinstance(t, uper.Choice):
        member = rng.choice(list(t.root_index_to_member.values()))
        return (member.name, _value(rng, member))
    if isinstance(t, uper.SequenceOf):
        return [_value(rng, t.element_type) for _ in range(_length(rng, t, _EXTRA_ITEMS))]
    if isinstance(t, uper.OctetString):
        return rng.randbytes(_length(rng, t, _EXTRA_CHARS))
    if isinstance(t, uper.BitString):
        bits = _length(rng, t, 8)
        raw = bytearray(rng.randbytes((bits + 7) // 8))
        if bits % 8:
            raw[-1] &= (0xFF << (8 - bits % 8)) & 0xFF
        return (bytes(raw), bits)
    if isinstance(t, uper.IA5String):
        return "".join(chr(rng.randrange(128)) for _ in range(_length(rng, t, _EXTRA_CHARS)))
    msg = f"no random values for {type(t).__name__}"
    raise NotImplementedError(msg)


def random_frame(rng: random.Random, alternative: str, edition: str) -> tuple[str, Any]:
    """A random ``(alternative, value)`` MessageFrame choice of ``edition``."""
    root = specification(edition, "uper").types[FRAME_TYPE]._type
    member = root.root_index_to_member[root.root_name_to_index[alternative]]
    return (alternative, _value(rng, member))
