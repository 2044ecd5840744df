"""``V2xCodec``: one RSU payload (UPER, optionally vendor-framed, or a JSON rendering) to a ``V2xMessage``.

Guarantees: stateless and thread-safe after construction; the compiled specification is shared per
edition within the process; ``decode`` raises nothing but ``CodecError``, whatever the bytes.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.codecs.base import Codec, CodecError
from processors.codecs.v2x.compiled import compiled_decoder
from processors.codecs.v2x.extract import build_message
from processors.codecs.v2x.framing import VendorHeader, split_vendor_frame
from processors.codecs.v2x.jsonforms import load_json, to_frames
from processors.codecs.v2x.model import PayloadEncoding, V2xMessage
from processors.codecs.v2x.schema import (
    DEFAULT_EDITION,
    FrameValue,
    available_editions,
    decode_frame,
    specification,
)

__all__ = ["V2xCodec", "V2xCodecConfig"]

logger = logging.getLogger(__name__)

_JSON_WHITESPACE = b" \t\r\n"


def _looks_like_text(payload: bytes) -> bool:
    """Whether a payload opening with whitespace is plausibly JSON text rather than UPER."""
    try:
        payload[:256].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class V2xCodecConfig(BaseModel):
    """Per-driver settings of the codec; frozen, validated at construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edition: str = DEFAULT_EDITION
    framing: bool = False  # vendor header in front of the UPER body
    payload: Literal["auto", "uper", "json"] = "auto"
    max_json_bytes: int = 256 * 1024
    max_json_depth: int = 32

    @field_validator("edition")
    @classmethod
    def _known_edition(cls, value: str) -> str:
        if value not in available_editions():
            msg = f"unknown C-V2X edition {value!r}; known: {', '.join(available_editions())}"
            raise ValueError(msg)
        return value


class V2xCodec(Codec[V2xMessage]):
    """Decoder of CSAE 53 day-one messages for one driver/edition (see ``V2xCodecConfig``)."""

    name = "v2x"
    version = "1"

    def __init__(self, config: V2xCodecConfig | None = None, **options: Any) -> None:
        self.config = config or V2xCodecConfig(**options)
        specification(self.config.edition, "uper")  # compile now, not on the first message
        compiled_decoder(self.config.edition)  # and pick the UPER decoder (may refuse to start)

    def decode(self, payload: bytes, envelope: Envelope) -> V2xMessage:
        """Decode one payload; a JSON document carrying several RSMs is merged into one message."""
        messages = self.decode_all(payload, envelope)
        if len(messages) == 1:
            return messages[0]
        first = messages[0]
        merged = tuple(p for m in messages for p in m.participants)
        warnings = tuple(w for m in messages for w in m.warnings)
        return first.model_copy(update={"participants": merged, "warnings": warnings})

    def decode_all(self, payload: bytes, envelope: Envelope) -> tuple[V2xMessage, ...]:
        """Decode one payload into its messages (several only for multi-RSM JSON documents)."""
        try:
            return self._decode(payload, envelope)
        except CodecError:
            raise
        except Exception as exc:  # last line of defence: the contract allows only CodecError
            logger.warning("v2x decode of %s failed unexpectedly: %s", envelope.device_id, exc)
            msg = f"unexpected {type(exc).__name__}: {str(exc)[:200]}"
            raise CodecError(ReasonCode.DECODE_ERROR, msg) from exc

    def _decode(self, payload: bytes, envelope: Envelope) -> tuple[V2xMessage, ...]:
        cfg = self.config
        if not payload:
            raise CodecError(ReasonCode.PAYLOAD_EMPTY, "empty V2X payload")
        header: VendorHeader | None = None
        frames: list[FrameValue]
        encoding: PayloadEncoding
        # A root MessageFrame alternative never starts with 0x7B ('{' would be index 7), but an RSM
        # body does start with 0x20 (a space): leading whitespace alone must not decide.
        is_json = cfg.payload == "json" or (
            cfg.payload == "auto"
            and not cfg.framing
            and payload.lstrip(_JSON_WHITESPACE)[:1] == b"{"
            and (payload[0] == ord("{") or _looks_like_text(payload))
        )
        if is_json:
            document = load_json(payload, max_bytes=cfg.max_json_bytes, max_depth=cfg.max_json_depth)
            frames, shape = to_frames(document, edition=cfg.edition, topic=envelope.topic)
            encoding = "jer" if shape == "jer" else "csae_json"
        else:
            body = payload
            if cfg.framing:
                header, body = split_vendor_frame(payload)
            frames, encoding = [decode_frame(body, cfg.edition)], "uper"
        received_ms = envelope.received_ns // 1_000_000
        return tuple(
            build_message(f, edition=cfg.edition, encoding=encoding, framing=header,
                          received_ms=received_ms)
            for f in frames
        )
