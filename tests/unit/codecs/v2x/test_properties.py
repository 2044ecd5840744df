"""Property tests: whatever the input, the codec raises only CodecError and returns quickly."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.codecs.base import CodecError
from processors.codecs.v2x import V2xCodec, V2xMessage, build_vendor_header, encode_frame
from processors.codecs.v2x.schema import decode_frame, specification
from tests.unit.codecs.v2x import samples

FAST = settings(max_examples=150, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
BODIES = [encode_frame(make()) for make in samples.ALL.values()]
UPER = V2xCodec()
FRAMED = V2xCodec(framing=True)


def _env(payload: bytes, topic: str = "V2X/RSU/R1/RSM/UP") -> Envelope:
    return Envelope(payload=payload, topic=topic, family="v2x", device_id="R1",
                    received_ns=1_605_336_902_333_000_000, gateway_id="t")


def _decode_or_codec_error(codec: V2xCodec, payload: bytes, topic: str = "V2X/RSU/R1/RSM/UP") -> None:
    try:
        result = codec.decode(payload, _env(payload, topic))
    except CodecError as exc:
        assert isinstance(exc.reason, ReasonCode)
    else:
        assert isinstance(result, V2xMessage)


@FAST
@given(st.binary(max_size=400))
def test_random_bytes(payload: bytes) -> None:
    _decode_or_codec_error(UPER, payload)
    _decode_or_codec_error(FRAMED, payload)


@FAST
@given(st.sampled_from(BODIES), st.data())
def test_truncated_and_corrupted_bodies(body: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(body) - 1))
    _decode_or_codec_error(UPER, body[:cut])
    flip = data.draw(st.integers(0, len(body) - 1))
    mutated = body[:flip] + bytes([body[flip] ^ data.draw(st.integers(1, 255))]) + body[flip + 1:]
    _decode_or_codec_error(UPER, mutated)
    framed = build_vendor_header("R1", 1_605_336_902_333, body)
    _decode_or_codec_error(FRAMED, framed[: 18 + cut])


def test_truncated_bodies_always_fail() -> None:
    for body in BODIES:
        for cut in range(len(body) - 1):
            with pytest.raises(CodecError):
                decode_frame(body[:cut])


@FAST
@given(st.sampled_from(BODIES), st.text(max_size=20))
def test_wrong_edition(body: bytes, edition: str) -> None:
    if edition == "csae53-2019":
        return
    with pytest.raises(CodecError) as info:
        decode_frame(body, edition)
    assert info.value.reason is ReasonCode.UNSUPPORTED_MESSAGE
    with pytest.raises(ValueError, match="unknown C-V2X edition"):
        V2xCodec(edition=edition)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["rsmFrame", "content", "rsms", "msgCnt", "participants",
                                       "refPos", "lat", "lon", "pos", "id", "x"]), children,
                      max_size=4),
    max_leaves=20,
)


@FAST
@given(JSON_VALUES, st.sampled_from(["RSM", "SPAT", "MAP", "RSI", "BSM", "HB"]))
def test_garbage_json(document: object, kind: str) -> None:
    payload = json.dumps(document).encode()
    if not payload.startswith(b"{"):
        payload = b"{" + payload  # exercise the JSON path even for scalars
    _decode_or_codec_error(UPER, payload, f"V2X/RSU/R1/{kind}/UP")


def test_oversized_and_deeply_nested_json_refused_fast() -> None:
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(CodecError) as info:
        UPER.decode(deep, _env(deep))
    assert info.value.reason is ReasonCode.PAYLOAD_TOO_LARGE
    roomy = V2xCodec(max_json_bytes=10_000_000)
    with pytest.raises(CodecError) as info:
        roomy.decode(deep, _env(deep))
    assert info.value.reason in {ReasonCode.DECODE_ERROR, ReasonCode.SCHEMA_INVALID}
    nested = b'{"rsmFrame":' + b"[" * 40 + b"]" * 40 + b"}"
    with pytest.raises(CodecError) as info:
        UPER.decode(nested, _env(nested))
    assert info.value.reason is ReasonCode.SCHEMA_INVALID


def test_spec_compiled_once() -> None:
    assert specification("csae53-2019") is specification("csae53-2019")


@pytest.mark.parametrize("body", [b"\x80\x02\xab\xcd", b"\x81\x02\xab\xcd", b"\x80\x01\x02\x03"])
def test_b16_unknown_extension_alternative_is_unsupported_with_edition(body: bytes) -> None:
    """B16: the extension bit set, an alternative index the edition does not define."""
    with pytest.raises(CodecError) as caught:
        UPER.decode(body, _env(body))
    assert caught.value.reason is ReasonCode.UNSUPPORTED_MESSAGE
    assert "csae53-2019" in str(caught.value) and "unknown to edition" in str(caught.value)
