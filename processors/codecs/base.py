"""The codec contract: bytes plus envelope metadata in, typed messages or a CodecError out.

A codec never raises anything but ``CodecError``, whatever the bytes; callers turn a CodecError into a
dead letter with its ``reason`` code.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.exceptions import ProcessorError

__all__ = ["Codec", "CodecError", "DecodedT_co"]

DecodedT_co = TypeVar("DecodedT_co", bound=BaseModel, covariant=True)


class CodecError(ProcessorError):
    """The payload cannot be decoded; per-record and never retriable."""

    retriable = False

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class Codec(Protocol[DecodedT_co]):
    """One protocol decoder. ``name`` and ``version`` are recorded in every record's provenance."""

    name: str
    version: str

    def decode(self, payload: bytes, envelope: Envelope) -> DecodedT_co:
        """Decode one payload; raise only CodecError."""
        ...
