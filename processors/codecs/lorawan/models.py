"""Typed LoRaWAN uplink: identity, frame counters, radio metadata and the decoded application payload."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from processors.codecs.lorawan.lpp import LppReading

__all__ = ["FieldValue", "LorawanUplink", "PayloadCodecName", "RxInfo", "UplinkSource"]

UplinkSource = Literal["chirpstack_v4", "tts_v3", "plain_json"]
PayloadCodecName = Literal["cayenne_lpp", "json", "none"]
FieldValue = float | int | bool | str | None


class RxInfo(BaseModel):
    """Reception by one gateway."""

    model_config = ConfigDict(frozen=True)

    gateway_id: str | None = None
    rssi: float | None = None
    snr: float | None = None
    time: datetime | None = None


class LorawanUplink(BaseModel):
    """One uplink, whatever network server (or none) delivered it.

    ``message_id`` is the network server's per-uplink id (ChirpStack ``deduplicationId``, TTS
    ``as:up:`` correlation id) and is the natural message key when present. ``frm_payload`` is the
    raw application payload, always kept. ``applied_codec`` names what produced ``fields``:
    ``lns`` (the network server's own decoder output), ``cayenne_lpp``, ``json`` or ``none``.
    ``fields`` is flat: nested JSON keys are joined with ``.``, LPP readings are named
    ``<type>_<channel>`` (multi-axis ones ``<type>_<channel>.<component>``).
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    source: UplinkSource
    dev_eui: str | None = None
    device_name: str | None = None
    device_profile: str | None = None
    application_id: str | None = None
    application_name: str | None = None
    tenant: str | None = None
    tags: dict[str, str] = {}
    message_id: str | None = None
    time: datetime | None = None
    f_cnt: int | None = None
    f_port: int | None = None
    confirmed: bool | None = None
    dev_addr: str | None = None
    frequency: int | None = None
    spreading_factor: int | None = None
    frm_payload: bytes | None = None
    rx: tuple[RxInfo, ...] = ()
    lns_object: dict[str, object] | None = None
    applied_codec: Literal["lns", "cayenne_lpp", "json", "none"] = "none"
    lpp: tuple[LppReading, ...] = ()
    fields: dict[str, FieldValue] = {}

    @property
    def best_rx(self) -> RxInfo | None:
        """The reception with the strongest RSSI (the usual choice for per-uplink radio values)."""
        with_rssi = [r for r in self.rx if r.rssi is not None]
        if not with_rssi:
            return self.rx[0] if self.rx else None
        return max(with_rssi, key=lambda r: r.rssi or 0.0)
