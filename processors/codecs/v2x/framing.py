"""The vendor framing header seen on real RSU captures (a per-driver option, never a global one).

Layout: 8-byte ASCII device id, 8-byte little-endian Unix epoch milliseconds, 2-byte little-endian
body length, then the UPER body. The declared length must equal the bytes that follow.
"""

from __future__ import annotations

import struct

from pydantic import BaseModel, ConfigDict

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError

__all__ = ["HEADER_SIZE", "VendorHeader", "build_vendor_header", "split_vendor_frame"]

_HEADER = struct.Struct("<8sQH")
HEADER_SIZE = _HEADER.size  # 18


class VendorHeader(BaseModel):
    """The parsed vendor header; ``device_id`` keeps trailing NULs stripped, ``device_id_hex`` all 8 bytes."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    device_id_hex: str
    epoch_ms: int
    body_length: int


def build_vendor_header(device_id: str, epoch_ms: int, body: bytes) -> bytes:
    """Header + body for ``body``; ``device_id`` is ASCII of at most 8 characters (NUL-padded)."""
    try:
        raw_id = device_id.encode("ascii")
    except UnicodeEncodeError as exc:
        msg = f"device id {device_id!r} is not ASCII"
        raise ValueError(msg) from exc
    if len(raw_id) > 8:
        msg = f"device id {device_id!r} is longer than 8 bytes"
        raise ValueError(msg)
    if not 0 <= epoch_ms < 2**64 or len(body) > 0xFFFF:
        msg = "epoch_ms must fit uint64 and the body uint16 length"
        raise ValueError(msg)
    return _HEADER.pack(raw_id.ljust(8, b"\0"), epoch_ms, len(body)) + body


def split_vendor_frame(frame: bytes) -> tuple[VendorHeader, bytes]:
    """Split a framed payload into header and body; CodecError(FRAMING_ERROR) when inconsistent."""
    if len(frame) < HEADER_SIZE:
        msg = f"{len(frame)} bytes is shorter than the {HEADER_SIZE}-byte vendor header"
        raise CodecError(ReasonCode.FRAMING_ERROR, msg)
    raw_id, epoch_ms, length = _HEADER.unpack_from(frame)
    body = frame[HEADER_SIZE:]
    if length != len(body):
        msg = f"header declares {length} body bytes, {len(body)} follow"
        raise CodecError(ReasonCode.FRAMING_ERROR, msg)
    header = VendorHeader(
        device_id=raw_id.rstrip(b"\0").decode("ascii", "replace"),
        device_id_hex=raw_id.hex(),
        epoch_ms=epoch_ms,
        body_length=length,
    )
    return header, body
