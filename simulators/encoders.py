"""The project codecs' encoders, imported lazily so a missing codec fails with a clear error.

The simulators never carry their own copy of a wire format: V2X frames come from
``processors.codecs.v2x``, Sparkplug payloads from ``processors.codecs.sparkplug.encode`` and
Cayenne LPP from ``processors.codecs.lorawan``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from simulators.exceptions import EncoderUnavailable

__all__ = ["lorawan_codec", "sparkplug_encoder", "v2x_codec"]


def _load(module: str, family: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = f"the {family} encoder ({module}) is not available in this build: {exc}"
        raise EncoderUnavailable(msg) from exc


def v2x_codec() -> ModuleType:
    """``processors.codecs.v2x`` (encode_frame, frame_to_jer, build_vendor_header, ...)."""
    return _load("processors.codecs.v2x", "v2x")


def sparkplug_encoder() -> ModuleType:
    """``processors.codecs.sparkplug.encode`` (MetricSpec, encode_payload, birth/death payloads)."""
    return _load("processors.codecs.sparkplug.encode", "iiot")


def lorawan_codec() -> ModuleType:
    """The module providing ``encode_lpp``: ``processors.codecs.lorawan`` or its ``lpp`` submodule."""
    for name in ("processors.codecs.lorawan", "processors.codecs.lorawan.lpp"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "encode_lpp"):
            return module
    msg = "no encode_lpp in processors.codecs.lorawan: the Cayenne LPP encoder is not available"
    raise EncoderUnavailable(msg)
