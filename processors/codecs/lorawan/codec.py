"""The LoRaWAN codec: ChirpStack v4 / TTS v3 / plain JSON documents in, ``LorawanUplink`` out.

Application-payload codec per device: ``codec_for(dev_eui_or_device_id)`` (e.g. the registry's
``Device.codec``), else ``LorawanConfig.profile_codecs[deviceProfileName]``, else
``LorawanConfig.default_codec``. With ``cayenne_lpp`` or ``json`` the FRMPayload is decoded and a
failure dead-letters the uplink; with ``none`` (or no FRMPayload) the network server's own decoded
object is used when present. ``lpp_fports``, when set, limits LPP decoding to those fPorts
(other ports fall back to the network server's object).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.codecs.base import Codec, CodecError, FormatError
from processors.codecs.lorawan.jsonsafe import JsonLimitError, load_bounded
from processors.codecs.lorawan.lpp import LppError, LppReading, decode_lpp
from processors.codecs.lorawan.models import FieldValue, LorawanUplink, PayloadCodecName
from processors.codecs.lorawan.servers import (
    UplinkSchemaError,
    detect_source,
    parse_chirpstack_v4,
    parse_tts_v3,
)
from processors.codecs.strictjson import StrictJsonError

__all__ = ["CodecResolver", "LorawanCodec", "LorawanConfig", "flatten_fields", "lpp_fields"]

logger = logging.getLogger(__name__)

CodecResolver = Callable[[str], "str | None"]


class LorawanConfig(BaseModel):
    """Limits and payload-codec choices of the LoRaWAN codec."""

    model_config = ConfigDict(frozen=True)

    max_payload_bytes: int = Field(default=256 * 1024, gt=0)
    max_json_depth: int = Field(default=32, gt=0)
    max_fields: int = Field(default=512, gt=0)
    default_codec: PayloadCodecName = "none"
    profile_codecs: Mapping[str, PayloadCodecName] = {}
    lpp_fports: tuple[int, ...] | None = None


class LorawanCodec(Codec[LorawanUplink]):
    """Stateless decoder of LoRaWAN uplinks; ``decode`` raises only CodecError."""

    name = "lorawan"
    version = "1"

    def __init__(
        self, config: LorawanConfig | None = None, *, codec_for: CodecResolver | None = None
    ) -> None:
        self.config = config or LorawanConfig()
        self._codec_for = codec_for

    def decode(self, payload: bytes, envelope: Envelope) -> LorawanUplink:
        """Decode one uplink document; event topics other than ``up`` are refused as unsupported."""
        try:
            return self._decode(payload, envelope)
        except CodecError:
            raise
        except StrictJsonError as exc:
            raise CodecError(exc.reason, str(exc)) from exc
        except JsonLimitError as exc:
            reason = ReasonCode.PAYLOAD_TOO_LARGE if exc.too_large else ReasonCode.DECODE_ERROR
            raise CodecError(reason, str(exc)) from exc
        except UplinkSchemaError as exc:
            raise CodecError(ReasonCode.SCHEMA_INVALID, str(exc)) from exc
        except (FormatError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise CodecError(ReasonCode.DECODE_ERROR, str(exc)) from exc
        except Exception as exc:
            # Last line of defence of the codec contract: log the unexpected failure as a bug.
            logger.exception("unexpected LoRaWAN decoding failure on %s", envelope.topic)
            raise CodecError(ReasonCode.DECODE_ERROR, f"unexpected: {exc!r}") from exc

    def _decode(self, payload: bytes, envelope: Envelope) -> LorawanUplink:
        _check_event_topic(envelope.topic)
        cfg = self.config
        doc = load_bounded(payload, max_bytes=cfg.max_payload_bytes, max_depth=cfg.max_json_depth)
        if not isinstance(doc, dict):
            raise CodecError(ReasonCode.SCHEMA_INVALID, "uplink document is not a JSON object")
        source = detect_source(doc)
        if source == "chirpstack_v3":
            raise CodecError(
                ReasonCode.UNSUPPORTED_MESSAGE, "ChirpStack v3 events are not supported"
            )
        if source == "plain_json":
            flat = flatten_fields(doc, cfg.max_fields)
            return LorawanUplink(source="plain_json", applied_codec="json", fields=flat)
        base = parse_chirpstack_v4(doc) if source == "chirpstack_v4" else parse_tts_v3(doc)
        codec = self._choose_codec(base, envelope)
        frm: bytes | None = base["frm_payload"]
        lns: dict[str, Any] | None = base["lns_object"]
        lpp: tuple[LppReading, ...] = ()
        applied = "none"
        fields: dict[str, FieldValue]
        use_lpp = codec == "cayenne_lpp" and (
            cfg.lpp_fports is None or base["f_port"] in cfg.lpp_fports
        )
        if frm and use_lpp:
            try:
                lpp = decode_lpp(frm)
            except LppError as exc:
                raise CodecError(ReasonCode.DECODE_ERROR, f"Cayenne LPP: {exc}") from exc
            applied, fields = "cayenne_lpp", lpp_fields(lpp)
        elif frm and codec == "json":
            inner = load_bounded(frm, max_bytes=cfg.max_payload_bytes, max_depth=cfg.max_json_depth)
            if not isinstance(inner, dict):
                raise CodecError(ReasonCode.SCHEMA_INVALID, "JSON FRMPayload is not an object")
            applied, fields = "json", flatten_fields(inner, cfg.max_fields)
        elif lns:
            applied, fields = "lns", flatten_fields(lns, cfg.max_fields)
        else:
            fields = {}
        return LorawanUplink.model_validate(
            {**base, "applied_codec": applied, "lpp": lpp, "fields": fields}
        )

    def _choose_codec(self, base: dict[str, Any], envelope: Envelope) -> str:
        chosen: str | None = None
        if self._codec_for is not None:
            chosen = self._codec_for(base.get("dev_eui") or envelope.device_id)
        if chosen is None and base.get("device_profile") is not None:
            chosen = self.config.profile_codecs.get(base["device_profile"])
        chosen = chosen or self.config.default_codec
        if chosen not in ("cayenne_lpp", "json", "none"):
            raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, f"unknown payload codec {chosen!r}")
        return chosen


def lpp_fields(readings: tuple[LppReading, ...]) -> dict[str, FieldValue]:
    """Flat ``<type>_<channel>`` names for LPP readings (components as ``.<axis>``)."""
    out: dict[str, FieldValue] = {}
    for r in readings:
        key = f"{r.name}_{r.channel}"
        if r.components is not None:
            for axis, number in r.components.items():
                out[f"{key}.{axis}"] = number
        else:
            out[key] = r.value
    return out


def flatten_fields(doc: Mapping[str, Any], max_fields: int) -> dict[str, FieldValue]:
    """Scalar leaves of a JSON object keyed by dotted path (list items by index).

    Raises CodecError when there are more than ``max_fields`` leaves.
    """
    out: dict[str, FieldValue] = {}
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in reversed(list(doc.items()))]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}", v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{key}.{i}", v) for i, v in reversed(list(enumerate(value))))
        else:
            if len(out) >= max_fields:
                raise CodecError(ReasonCode.SCHEMA_INVALID, f"more than {max_fields} fields")
            out[key] = value
    return out


def _check_event_topic(topic: str) -> None:
    parts = topic.split("/")
    # ChirpStack: application/<app>/device/<eui>/event/<event>; only "up" carries telemetry.
    if len(parts) == 6 and parts[0] == "application" and parts[4] == "event" and parts[5] != "up":
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, f"ChirpStack {parts[5]} event ignored")
    # TTS: v3/<app>[@tenant]/devices/<id>/<event>; only "up" carries telemetry.
    if len(parts) == 5 and parts[0] == "v3" and parts[2] == "devices" and parts[4] != "up":
        raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, f"TTS {parts[4]} event ignored")
