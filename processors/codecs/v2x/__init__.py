"""C-V2X codec (CSAE 53 / YD/T 3709 day-one: BSM, MAP, RSM, SPAT, RSI): UPER, JSON renderings, vendor framing.

Public surface: ``V2xCodec`` for the processors, plus the frame API used by the simulators
(``encode_frame``, ``decode_frame``, ``build_vendor_header``, ``frame_to_jer``).
"""

from __future__ import annotations

from processors.codecs.v2x.codec import V2xCodec, V2xCodecConfig
from processors.codecs.v2x.framing import VendorHeader, build_vendor_header, split_vendor_frame
from processors.codecs.v2x.model import V2xMessage
from processors.codecs.v2x.schema import (
    DEFAULT_EDITION,
    available_editions,
    decode_frame,
    decode_frame_json,
    encode_frame,
    frame_from_jer,
    frame_to_jer,
)

__all__ = [
    "DEFAULT_EDITION",
    "V2xCodec",
    "V2xCodecConfig",
    "V2xMessage",
    "VendorHeader",
    "available_editions",
    "build_vendor_header",
    "decode_frame",
    "decode_frame_json",
    "encode_frame",
    "frame_from_jer",
    "frame_to_jer",
    "split_vendor_frame",
]
