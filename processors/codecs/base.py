"""The codec contract: bytes plus envelope metadata in, typed messages or a CodecError out.

A codec never raises anything but ``CodecError``, whatever the bytes; callers turn a CodecError into a
dead letter with its ``reason`` code. Each codec subclasses ``Codec`` explicitly, so mypy checks it.
Parsers inside a codec raise their own ``FormatError``; the codec maps each to a reason code.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.errors import Rejected
from processors.exceptions import ProcessorError

__all__ = ["Codec", "CodecError", "DecodedT_co", "FormatError"]

DecodedT_co = TypeVar("DecodedT_co", bound=BaseModel, covariant=True)


class CodecError(ProcessorError, Rejected):
    """The payload cannot be decoded; per-record and never retriable, carries the reason code."""


class FormatError(ProcessorError):
    """Bytes or a document break a wire format; a codec turns it into a CodecError with a reason."""


class Codec(Protocol[DecodedT_co]):
    """One protocol decoder. ``name`` and ``version`` are recorded in every record's provenance."""

    name: str
    version: str

    def decode(self, payload: bytes, envelope: Envelope) -> DecodedT_co:
        """Decode one payload; raise only CodecError."""
        ...
