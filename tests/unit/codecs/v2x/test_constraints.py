"""``check_frame`` accepts exactly the values asn1tools' UPER encoder accepts with constraint checks.

Random valid frames of every type, each with one random defect planted at a random place (value out
of range, wrong type, member missing, list or string of the wrong size, unknown name).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from processors.codecs.base import CodecError
from processors.codecs.v2x.constraints import check_frame
from processors.codecs.v2x.schema import (
    DEFAULT_EDITION,
    FRAME_ALTERNATIVES,
    FRAME_TYPE,
    specification,
)
from tests.unit.codecs.v2x.random_frames import random_frame


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every nested value, so one can be replaced."""
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((value, key))
            _slots(inner, out)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out.append((value, i))
            _slots(inner, out)
    return out


def _defect(rng: random.Random, old: Any) -> Any:
    if isinstance(old, bool):
        return 1.5
    if isinstance(old, int):
        return rng.choice([old + 10**rng.randint(0, 10), -old - 10**rng.randint(0, 10), float(old), str(old)])
    if isinstance(old, str):
        return rng.choice(["no-such-name", old + "\u00e9", "x" * rng.randint(60, 600), ""])
    if isinstance(old, bytes):
        return rng.choice([old + b"\0", old[:-1], list(old)])
    if isinstance(old, list):
        return rng.choice([[], old * 20, tuple(old)])
    if isinstance(old, tuple) and isinstance(old[0], str):
        return rng.choice([("noSuchAlternative", old[1]), old[1], (old[0],)])
    if isinstance(old, tuple):
        return rng.choice([(old[0], old[1] + 100), (old[0], -1), old[0]])
    if isinstance(old, dict):
        return rng.choice([{}, [old], {"unknownMember": 1}])
    return None


def _encodes(choice: tuple[str, Any]) -> bool:
    try:
        specification(DEFAULT_EDITION, "uper").encode(FRAME_TYPE, choice, check_constraints=True)
    except Exception:
        return False
    return True


def _checks(choice: tuple[str, Any]) -> bool:
    try:
        check_frame(choice, DEFAULT_EDITION)
    except CodecError:
        return False
    return True


@pytest.mark.parametrize("alternative", sorted(FRAME_ALTERNATIVES))
def test_check_agrees_with_the_encoder(alternative: str) -> None:
    rng = random.Random(f"constraints-{alternative}")
    refused = 0
    for _ in range(600):
        choice = random_frame(rng, alternative, DEFAULT_EDITION)
        slots = _slots(choice[1], [])
        if slots and rng.random() < 0.8:
            container, key = rng.choice(slots)
            if rng.random() < 0.2 and isinstance(container, dict):
                del container[key]
            else:
                container[key] = _defect(rng, container[key])
        expected = _encodes(choice)
        refused += not expected
        assert _checks(choice) == expected, repr(choice)
    assert refused > 100
