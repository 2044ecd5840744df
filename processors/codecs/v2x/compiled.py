"""Which UPER decoder an edition uses: the generated C extension when built and current, else asn1tools.

``setup.py`` builds ``_uper_<edition>`` from the ASN.1 modules at install time (``uper_cgen.py``).
``SENSEGATE_V2X_DECODER`` chooses: ``auto`` (default) takes the extension when it is importable
and was generated from the modules as they are now, and asn1tools otherwise (logged once);
``python`` always takes asn1tools (machines without a C compiler, or to rule the extension out);
``compiled`` refuses to start without a current extension.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.codecs.v2x.uper_cgen import asn1_digest
from processors.exceptions import ConfigurationError

__all__ = ["DecoderSettings", "FrameDecoder", "compiled_decoder", "decoder_name", "module_name"]

logger = logging.getLogger(__name__)

# (alternative, value) in asn1tools' form and the octets the encoding used
FrameDecoder = Callable[[bytes], "tuple[tuple[str, Any], int]"]


class DecoderSettings(BaseSettings):
    """``SENSEGATE_V2X_DECODER``: auto | compiled | python."""

    model_config = SettingsConfigDict(env_prefix="SENSEGATE_V2X_", frozen=True, extra="ignore")

    decoder: Literal["auto", "compiled", "python"] = "auto"


def module_name(edition: str) -> str:
    """Name of the generated extension of ``edition`` (as ``setup.py`` builds it)."""
    return "_uper_" + edition.replace("-", "_").replace(".", "_")


@functools.cache
def compiled_decoder(edition: str) -> FrameDecoder | None:
    """The generated decoder of ``edition``, or None when asn1tools is to decode (see module doc)."""
    from processors.codecs.v2x.schema import ASN1_ROOT  # schema imports this module

    mode = DecoderSettings().decoder
    if mode == "python":
        return None
    problem: str
    try:
        module = importlib.import_module(f"processors.codecs.v2x.{module_name(edition)}")
    except ImportError as exc:
        problem = f"not built ({exc}); `make venv` with a C compiler builds it"
    else:
        if asn1_digest(list((ASN1_ROOT / edition).glob("*.asn"))) == module.ASN1_DIGEST:
            decode: FrameDecoder = module.decode_frame
            return decode
        problem = "built from other ASN.1 modules than these; reinstall (`make venv`)"
    if mode == "compiled":
        msg = f"SENSEGATE_V2X_DECODER=compiled but the decoder of {edition} is {problem}"
        raise ConfigurationError(msg)
    logger.warning("C-V2X %s: generated UPER decoder %s; decoding with asn1tools", edition, problem)
    return None


def decoder_name(edition: str) -> str:
    """``compiled`` or ``asn1tools``: what decodes UPER of ``edition`` in this process."""
    return "compiled" if compiled_decoder(edition) is not None else "asn1tools"
