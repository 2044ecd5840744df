"""The generated C UPER decoder and asn1tools decode every frame to the same value.

Golden captures (every case in tests/data/v2x/), 10,000 random valid frames per day-one message type, and corrupted frames (both
refuse, or both give the same value). With ``SENSEGATE_V2X_DECODER=python`` (a machine without a C
compiler) the extension is not built and this module is skipped; otherwise a missing or stale
extension fails here.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from asn1tools.codecs import uper as asn1tools_uper

from processors.codecs.v2x import split_vendor_frame
from processors.codecs.v2x.compiled import DecoderSettings, compiled_decoder, decoder_name
from processors.codecs.v2x.schema import (
    DEFAULT_EDITION,
    FRAME_ALTERNATIVES,
    FRAME_TYPE,
    _decode_with_length,
    specification,
)
from tests.fixtures.golden import GoldenCase, cases
from tests.unit.codecs.v2x.random_frames import random_frame

pytestmark = pytest.mark.skipif(
    DecoderSettings().decoder == "python", reason="SENSEGATE_V2X_DECODER=python: asn1tools only"
)

FRAMES_PER_TYPE = 10_000


def _both(body: bytes) -> tuple[Any, Any]:
    """(asn1tools result, compiled result); an exception stands as its type's name."""
    fast = compiled_decoder(DEFAULT_EDITION)
    assert fast is not None, "the generated decoder is not built or not current (run make venv)"
    spec = specification(DEFAULT_EDITION, "uper")
    out: list[Any] = []
    for decode in (lambda b: _decode_with_length(spec, b), fast):
        try:
            out.append(decode(body))
        except Exception as exc:
            out.append(("refused", type(exc).__name__))
    return out[0], out[1]


def test_the_compiled_decoder_is_in_use() -> None:
    assert decoder_name(DEFAULT_EDITION) == "compiled"


@pytest.mark.parametrize("case", cases("v2x"), ids=lambda c: c.name)
def test_golden_captures_agree(case: GoldenCase) -> None:
    frame = case.hex("frame.hex")
    _, body = split_vendor_frame(frame)
    slow, fast = _both(body)
    assert slow[1] == len(body)
    assert fast == slow


@pytest.mark.parametrize("alternative", sorted(FRAME_ALTERNATIVES))
def test_random_frames_agree(alternative: str) -> None:
    rng = random.Random(f"v2x-{alternative}")
    spec = specification(DEFAULT_EDITION, "uper")
    fast = compiled_decoder(DEFAULT_EDITION)
    assert fast is not None
    inner = spec.types[FRAME_TYPE]._type
    for i in range(FRAMES_PER_TYPE):
        value = random_frame(rng, alternative, DEFAULT_EDITION)
        encoder = asn1tools_uper.Encoder()
        inner.encode(value, encoder)
        body = encoder.as_bytearray()
        expected = _decode_with_length(spec, bytes(body))
        assert fast(bytes(body)) == expected, f"frame {i}: {body.hex()}"


def test_corrupted_frames_are_refused_alike() -> None:
    rng = random.Random("v2x-corrupt")
    refused = 0
    for i in range(3000):
        alternative = sorted(FRAME_ALTERNATIVES)[i % len(FRAME_ALTERNATIVES)]
        body = bytearray(specification(DEFAULT_EDITION, "uper").encode(
            FRAME_TYPE, random_frame(rng, alternative, DEFAULT_EDITION)))
        if i % 3 == 0:
            body = bytearray(rng.randbytes(rng.randint(1, 40)))
        elif i % 3 == 1:
            body = body[: rng.randint(0, len(body) - 1)]
        else:
            pos = rng.randrange(8 * len(body))
            body[pos // 8] ^= 0x80 >> (pos % 8)
        slow, fast = _both(bytes(body))
        if isinstance(slow, tuple) and slow[0] == "refused":
            refused += 1
            assert fast[0] == "refused", f"{body.hex()}: asn1tools refused, compiled gave {fast}"
        else:
            assert fast == slow, body.hex()
    assert refused > 500  # the corruption did reach the error paths
