"""Participants are built without pydantic validation; validating them changes nothing.

``extract`` types every field itself (numpy columns to floats, ints, strings, datetimes), so
``Participant.model_construct`` is used on the hot path. Here every participant of 2,000 random
valid RSM and BSM frames, and of the golden RSM captures, equals its validated copy field by field,
with the same Python types.
"""

from __future__ import annotations

import random

import pytest

from processors.codecs.v2x import split_vendor_frame
from processors.codecs.v2x.extract import build_message
from processors.codecs.v2x.model import Participant
from processors.codecs.v2x.schema import DEFAULT_EDITION, decode_frame
from tests.fixtures.golden import cases
from tests.unit.codecs.v2x.random_frames import random_frame

FRAMES = 2000


def _same_as_validated(p: Participant) -> None:
    checked = Participant.model_validate(p.model_dump())
    assert checked == p
    for name in Participant.model_fields:
        assert type(getattr(checked, name)) is type(getattr(p, name)), name


@pytest.mark.parametrize("alternative", ["rsmFrame", "bsmFrame"])
def test_random_frames_build_valid_participants(alternative: str) -> None:
    rng = random.Random(f"construct-{alternative}")
    seen = 0
    for _ in range(FRAMES):
        frame = dict([random_frame(rng, alternative, DEFAULT_EDITION)])
        message = build_message(frame, edition=DEFAULT_EDITION, encoding="uper", framing=None,
                                received_ms=1_700_000_000_000)
        for p in message.participants:
            _same_as_validated(p)
            seen += 1
    assert seen >= FRAMES


def test_golden_rsm_participants_are_valid() -> None:
    seen = 0
    for case in cases("v2x"):
        if case.expected.get("messageFrame_choice") != "rsmFrame":
            continue
        _, body = split_vendor_frame(case.hex("frame.hex"))
        message = build_message(decode_frame(body, DEFAULT_EDITION), edition=DEFAULT_EDITION,
                                encoding="uper", framing=None, received_ms=1_700_000_000_000)
        for p in message.participants:
            _same_as_validated(p)
            seen += 1
    assert seen > 0
