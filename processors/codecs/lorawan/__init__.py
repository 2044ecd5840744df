"""LoRaWAN codecs: ChirpStack v4 and The Things Stack v3 uplinks, Cayenne LPP, plain JSON payloads."""

from __future__ import annotations

from processors.codecs.lorawan.codec import (
    CodecResolver,
    LorawanCodec,
    LorawanConfig,
    flatten_fields,
    lpp_fields,
)
from processors.codecs.lorawan.jsonsafe import JsonLimitError, load_bounded
from processors.codecs.lorawan.lpp import LPP_TYPES, LppError, LppReading, decode_lpp, encode_lpp
from processors.codecs.lorawan.models import LorawanUplink, PayloadCodecName, RxInfo

__all__ = [
    "LPP_TYPES",
    "CodecResolver",
    "JsonLimitError",
    "LorawanCodec",
    "LorawanConfig",
    "LorawanUplink",
    "LppError",
    "LppReading",
    "PayloadCodecName",
    "RxInfo",
    "decode_lpp",
    "encode_lpp",
    "flatten_fields",
    "load_bounded",
    "lpp_fields",
]
