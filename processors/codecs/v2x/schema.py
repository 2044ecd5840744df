"""Compiled CSAE 53 ASN.1 specifications, one per edition, and the UPER/JER frame API.

Each edition is a directory of ASN.1 modules under ``asn1/<edition>/``. A specification is compiled
once per process and codec (``uper`` or ``jer``) and cached; compiling takes a few hundred
milliseconds. UPER decoding goes through the C decoder generated from the same modules when it is
built (``compiled.py``), else through asn1tools; both give the same values. Every failure surfaces
as ``CodecError``.

Frame values follow asn1tools' Python form for the inner message (OCTET STRING as ``bytes``, CHOICE as
``(alternative, value)``, BIT STRING as ``(bytes, bit_count)``); at the top level the MessageFrame
CHOICE is given as a one-key dict ``{"rsmFrame": {...}}`` (the JER shape), and a ``(name, value)``
tuple is accepted too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal

import asn1tools
from asn1tools.codecs import uper as asn1tools_uper

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.codecs.v2x.compiled import compiled_decoder
from processors.codecs.v2x.constraints import check_frame

__all__ = [
    "DEFAULT_EDITION",
    "FRAME_ALTERNATIVES",
    "MAX_UPER_BODY",
    "available_editions",
    "decode_frame",
    "decode_frame_json",
    "encode_frame",
    "frame_from_jer",
    "frame_to_jer",
    "specification",
]

DEFAULT_EDITION = "csae53-2019"
ASN1_ROOT = Path(__file__).with_name("asn1")
FRAME_TYPE = "MessageFrame"
FRAME_ALTERNATIVES: dict[str, str] = {
    "bsmFrame": "bsm",
    "mapFrame": "map",
    "rsmFrame": "rsm",
    "spatFrame": "spat",
    "rsiFrame": "rsi",
}
# The vendor header carries a uint16 length, and no day-one message comes close to it.
MAX_UPER_BODY = 65535

FrameValue = dict[str, Any]


@functools.cache
def available_editions() -> tuple[str, ...]:
    """Names of the editions shipped with the package (directories under ``asn1/``)."""
    return tuple(sorted(p.name for p in ASN1_ROOT.iterdir() if p.is_dir() and any(p.glob("*.asn"))))


@functools.cache
def specification(edition: str, codec: Literal["uper", "jer"] = "uper") -> Any:
    """The compiled asn1tools specification of ``edition``; compiled once per process and codec."""
    if edition not in available_editions():
        msg = f"unknown C-V2X edition {edition!r}; known: {', '.join(available_editions())}"
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, msg)
    files = sorted(str(p) for p in (ASN1_ROOT / edition).glob("*.asn"))
    return asn1tools.compile_files(files, codec)


def _as_choice(value: FrameValue | tuple[str, Any]) -> tuple[str, Any]:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, inner = value
    elif isinstance(value, dict) and len(value) == 1:
        ((name, inner),) = value.items()
    else:
        msg = "a MessageFrame value is a one-key dict {alternative: value} or a (name, value) tuple"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg)
    if name not in FRAME_ALTERNATIVES:
        msg = f"unknown MessageFrame alternative {name!r}"
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, msg)
    return name, inner


def encode_frame(value: FrameValue | tuple[str, Any], edition: str = DEFAULT_EDITION) -> bytes:
    """UPER-encode a MessageFrame value; raises CodecError(SCHEMA_INVALID) for a value off-schema."""
    choice = _as_choice(value)
    spec = specification(edition, "uper")
    try:
        return bytes(spec.encode(FRAME_TYPE, choice, check_constraints=True))
    except Exception as exc:  # asn1tools raises assorted types for bad values
        msg = f"cannot encode {choice[0]} as {edition}: {type(exc).__name__}: {exc}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg) from exc


def _decode_with_length(spec: Any, body: bytes) -> tuple[tuple[str, Any], int]:
    """Decode a MessageFrame with asn1tools and report the octets used (it has no UPER decode_with_length).

    Uses asn1tools' UPER decoder directly (pinned to 0.169.x in pyproject.toml); falls back to a
    plain decode, which cannot see trailing bytes, if that internal layout ever changes.
    """
    compiled = spec.types[FRAME_TYPE]
    inner_type = getattr(compiled, "_type", None)
    if inner_type is None:  # pragma: no cover - only on an asn1tools layout change
        return spec.decode(FRAME_TYPE, body), len(body)
    decoder = asn1tools_uper.Decoder(bytearray(body))
    value = inner_type.decode(decoder)
    return value, (decoder.number_of_read_bits() + 7) // 8


def decode_frame(body: bytes, edition: str = DEFAULT_EDITION) -> FrameValue:
    """Decode one UPER MessageFrame body to ``{alternative: value}``; raises only CodecError.

    Trailing bytes beyond the encoding are refused unless they are zero padding: a frame misaligned
    by a stray byte must not pass as valid.
    """
    if not body:
        raise CodecError(ReasonCode.PAYLOAD_EMPTY, "empty UPER body")
    if len(body) > MAX_UPER_BODY:
        msg = f"UPER body of {len(body)} bytes exceeds {MAX_UPER_BODY}"
        raise CodecError(ReasonCode.PAYLOAD_TOO_LARGE, msg)
    spec = specification(edition, "uper")
    fast = compiled_decoder(edition)
    try:
        (name, inner), used = fast(body) if fast is not None else _decode_with_length(spec, body)
    except Exception as exc:  # random bytes raise more than asn1tools.DecodeError (C: ValueError)
        msg = f"UPER decode as {edition} failed: {type(exc).__name__}: {exc}"
        raise CodecError(ReasonCode.DECODE_ERROR, msg) from exc
    if name is None:
        # an extension alternative this edition does not define: a newer edition or a vendor's (B16)
        msg = (
            f"MessageFrame extension alternative unknown to edition {edition} "
            f"(known editions: {', '.join(available_editions())}); raw bytes kept"
        )
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, msg)
    if any(body[used:]):
        msg = f"{len(body) - used} trailing bytes after a {used}-byte {name}"
        raise CodecError(ReasonCode.DECODE_ERROR, msg)
    if name not in FRAME_ALTERNATIVES:
        msg = f"MessageFrame alternative {name!r} is not a day-one message ({edition})"
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, msg)
    return {name: inner}


def frame_to_jer(value: FrameValue | tuple[str, Any], edition: str = DEFAULT_EDITION) -> dict[str, Any]:
    """Render a MessageFrame value as its ASN.1 JER (X.697) JSON document, as a parsed dict."""
    choice = _as_choice(value)
    spec = specification(edition, "jer")
    try:
        text = spec.encode(FRAME_TYPE, choice)
    except Exception as exc:
        msg = f"cannot render {choice[0]} as JER: {type(exc).__name__}: {exc}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg) from exc
    rendered: dict[str, Any] = json.loads(text)
    return rendered


def frame_from_jer(document: dict[str, Any], edition: str = DEFAULT_EDITION) -> FrameValue:
    """Turn a parsed JER document ``{alternative: {...}}`` into a MessageFrame value."""
    name, _ = _as_choice(document)
    spec = specification(edition, "jer")
    try:
        text = json.dumps(document).encode()
        choice = spec.decode(FRAME_TYPE, text)
    except Exception as exc:
        msg = f"JER {name} does not fit {edition}: {type(exc).__name__}: {exc}"
        raise CodecError(ReasonCode.SCHEMA_INVALID, msg) from exc
    # JER decoding does not check constraints; the checker does, without a UPER round trip.
    check_frame(choice, edition)
    return {choice[0]: choice[1]}


def decode_frame_json(text: str | bytes, edition: str = DEFAULT_EDITION) -> FrameValue:
    """Parse a JER JSON text into a MessageFrame value (convenience for tools and simulators)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = f"not JSON: {exc}"
        raise CodecError(ReasonCode.DECODE_ERROR, msg) from exc
    if not isinstance(document, dict):
        raise CodecError(ReasonCode.SCHEMA_INVALID, "a JER MessageFrame is a JSON object")
    return frame_from_jer(document, edition)
