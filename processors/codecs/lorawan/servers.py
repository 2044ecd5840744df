"""Network-server uplink documents (ChirpStack v4, The Things Stack v3) to uplink fields.

Each parser takes the parsed JSON object and returns keyword arguments for ``LorawanUplink`` (less
the application-payload fields) or raises ``UplinkSchemaError`` naming the offending field.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from processors.codecs.base import FormatError
from processors.codecs.lorawan.models import RxInfo

__all__ = ["UplinkSchemaError", "detect_source", "parse_chirpstack_v4", "parse_tts_v3"]


class UplinkSchemaError(FormatError):
    """A network-server document lacks a required field or has one of the wrong type."""


def detect_source(doc: dict[str, Any]) -> str:
    """``chirpstack_v4``, ``chirpstack_v3``, ``tts_v3`` or ``plain_json`` from the document's shape."""
    if "deviceInfo" in doc:
        return "chirpstack_v4"
    if "applicationID" in doc and ("devEUI" in doc or "objectJSON" in doc):
        return "chirpstack_v3"
    if "end_device_ids" in doc:
        return "tts_v3"
    return "plain_json"


def parse_chirpstack_v4(doc: dict[str, Any]) -> dict[str, Any]:
    """Fields of a ChirpStack v4 ``up`` event in the protobuf JSON mapping (lowerCamelCase)."""
    info = _obj(doc, "deviceInfo")
    dev_eui = _hex_eui(_str(info, "devEui", required=True), "deviceInfo.devEui")
    tags = _obj(info, "tags", required=False)
    tx = _obj(doc, "txInfo", required=False)
    lora = _obj(_obj(tx, "modulation", required=False), "lora", required=False)
    rx = []
    for i, item in enumerate(_list(doc, "rxInfo")):
        if not isinstance(item, dict):
            msg = f"rxInfo[{i}] is not an object"
            raise UplinkSchemaError(msg)
        stamp = _str(item, "nsTime") or _str(item, "gwTime") or _str(item, "time")
        rx.append(
            RxInfo(
                gateway_id=_str(item, "gatewayId"),
                rssi=_num(item, "rssi"),
                snr=_num(item, "snr"),
                time=_time(stamp, f"rxInfo[{i}].nsTime"),
            )
        )
    return {
        "source": "chirpstack_v4",
        "dev_eui": dev_eui,
        "device_name": _str(info, "deviceName"),
        "device_profile": _str(info, "deviceProfileName"),
        "application_id": _str(info, "applicationId"),
        "application_name": _str(info, "applicationName"),
        "tenant": _str(info, "tenantName") or _str(info, "tenantId"),
        "tags": {str(k): str(v) for k, v in tags.items()},
        "message_id": _str(doc, "deduplicationId"),
        "time": _time(_str(doc, "time"), "time"),
        "f_cnt": _int(doc, "fCnt"),
        "f_port": _int(doc, "fPort"),
        "confirmed": _bool(doc, "confirmed"),
        "dev_addr": _str(doc, "devAddr"),
        "frequency": _int(tx, "frequency"),
        "spreading_factor": _int(lora, "spreadingFactor"),
        "frm_payload": _b64(doc, "data"),
        "rx": tuple(rx),
        "lns_object": _obj(doc, "object", required=False) or None,
    }


def parse_tts_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Fields of a The Things Stack v3 uplink message (snake_case; empty fields omitted)."""
    ids = _obj(doc, "end_device_ids")
    up = _obj(doc, "uplink_message")
    settings = _obj(up, "settings", required=False)
    lora = _obj(_obj(settings, "data_rate", required=False), "lora", required=False)
    app = _obj(ids, "application_ids", required=False)
    dev_eui = _str(ids, "dev_eui")
    rx = []
    for i, item in enumerate(_list(up, "rx_metadata")):
        if not isinstance(item, dict):
            msg = f"rx_metadata[{i}] is not an object"
            raise UplinkSchemaError(msg)
        gw = _obj(item, "gateway_ids", required=False)
        rx.append(
            RxInfo(
                gateway_id=_str(gw, "gateway_id") or _str(gw, "eui"),
                rssi=_num(item, "rssi") if "rssi" in item else _num(item, "channel_rssi"),
                snr=_num(item, "snr"),
                time=_time(_str(item, "time") or _str(item, "received_at"), "rx_metadata.time"),
            )
        )
    correlation = [c for c in _list(doc, "correlation_ids") if isinstance(c, str)]
    message_id = next((c for c in correlation if c.startswith("as:up:")), None)
    return {
        "source": "tts_v3",
        "dev_eui": _hex_eui(dev_eui, "end_device_ids.dev_eui") if dev_eui else None,
        "device_name": _str(ids, "device_id", required=True),
        "application_id": _str(app, "application_id"),
        "message_id": message_id,
        "time": _time(_str(doc, "received_at") or _str(up, "received_at"), "received_at"),
        "f_cnt": _int(up, "f_cnt"),
        "f_port": _int(up, "f_port"),
        "confirmed": _bool(up, "confirmed"),
        "dev_addr": _str(ids, "dev_addr"),
        "frequency": _int(settings, "frequency"),
        "spreading_factor": _int(lora, "spreading_factor"),
        "frm_payload": _b64(up, "frm_payload"),
        "rx": tuple(rx),
        "lns_object": _obj(up, "decoded_payload", required=False) or None,
    }


# -- typed getters: absent -> None (unless required); present with the wrong type -> error ----------


def _obj(doc: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        if required:
            msg = f"missing object {key!r}"
            raise UplinkSchemaError(msg)
        return {}
    if not isinstance(value, dict):
        msg = f"{key!r} is not an object"
        raise UplinkSchemaError(msg)
    return value


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        msg = f"{key!r} is not a list"
        raise UplinkSchemaError(msg)
    return value


def _str(doc: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            msg = f"missing {key!r}"
            raise UplinkSchemaError(msg)
        return None
    if not isinstance(value, str):
        msg = f"{key!r} is not a string"
        raise UplinkSchemaError(msg)
    return value


def _int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    # The protobuf JSON mapping renders 64-bit integers as strings.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{key!r} is not a non-negative integer"
        raise UplinkSchemaError(msg)
    return value


def _num(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        msg = f"{key!r} is not a number"
        raise UplinkSchemaError(msg)
    return float(value)


def _bool(doc: dict[str, Any], key: str) -> bool | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        msg = f"{key!r} is not a boolean"
        raise UplinkSchemaError(msg)
    return value


def _b64(doc: dict[str, Any], key: str) -> bytes | None:
    value = _str(doc, key)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = f"{key!r} is not valid base64: {exc}"
        raise UplinkSchemaError(msg) from exc


def _time(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    # RFC 3339 with up to nanosecond fractions; Python keeps microseconds.
    if "." in text:
        head, _, frac = text.partition(".")
        digits = len(frac) - len(frac.lstrip("0123456789"))
        text = f"{head}.{frac[: min(digits, 6)]}{frac[digits:]}" if digits else f"{head}{frac}"
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        msg = f"{where}: not an RFC 3339 time: {value!r}"
        raise UplinkSchemaError(msg) from exc
    if stamp.tzinfo is None:
        msg = f"{where}: time without a UTC offset: {value!r}"
        raise UplinkSchemaError(msg)
    return stamp


def _hex_eui(value: str | None, where: str) -> str:
    text = (value or "").strip().lower()
    if len(text) != 16 or any(c not in "0123456789abcdef" for c in text):
        msg = f"{where}: not a 16-hex-digit EUI: {value!r}"
        raise UplinkSchemaError(msg)
    return text
