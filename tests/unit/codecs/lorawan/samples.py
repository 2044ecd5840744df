"""Uplink documents shaped like ChirpStack v4 and The Things Stack v3 output."""

from __future__ import annotations

import base64
import json
from typing import Any

from contracts.envelope import Envelope

DEV_EUI = "0004a30b001c0530"
APP_ID = "d5b5c4a9-1b0f-4c52-8d3e-3a2b9a6f1e11"
CS_TOPIC = f"application/{APP_ID}/device/{DEV_EUI}/event/up"
TTS_TOPIC = "v3/farm-app@ttn/devices/soil-07/up"


def chirpstack_up(
    frm: bytes | None, *, obj: dict[str, Any] | None = None, profile: str = "soil-lpp"
) -> dict[str, Any]:
    """A ChirpStack v4 ``up`` event (JSON mapping of integration.UplinkEvent)."""
    doc: dict[str, Any] = {
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        "time": "2026-01-01T00:00:00.123456789Z",
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "Jilin Agri",
            "applicationId": APP_ID,
            "applicationName": "soil",
            "deviceProfileId": "0b1e0d1f-0000-4c00-8000-000000000001",
            "deviceProfileName": profile,
            "deviceName": "soil-07",
            "devEui": DEV_EUI,
            "tags": {"field": "north-3"},
        },
        "devAddr": "01fa3b2c",
        "adr": True,
        "dr": 5,
        "fCnt": 42,
        "fPort": 85,
        "confirmed": False,
        "rxInfo": [
            {
                "gatewayId": "0016c001ff10a235",
                "uplinkId": 1234,
                "nsTime": "2026-01-01T00:00:00.120Z",
                "rssi": -97,
                "snr": 7.5,
                "channel": 2,
                "crcStatus": "CRC_OK",
            },
            {"gatewayId": "0016c001ff10a236", "uplinkId": 99, "rssi": -110, "snr": -3.2},
        ],
        "txInfo": {
            "frequency": 470300000,
            "modulation": {
                "lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}
            },
        },
    }
    if frm is not None:
        doc["data"] = base64.b64encode(frm).decode()
    if obj is not None:
        doc["object"] = obj
    return doc


def tts_up(frm: bytes | None, *, decoded: dict[str, Any] | None = None) -> dict[str, Any]:
    """A The Things Stack v3 uplink message."""
    up: dict[str, Any] = {
        "session_key_id": "AXA50...",
        "f_port": 2,
        "f_cnt": 7,
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "gw-north", "eui": "B827EBFFFE123456"},
                "time": "2026-01-01T00:00:01.5Z",
                "rssi": -80,
                "channel_rssi": -80,
                "snr": 9.25,
            }
        ],
        "settings": {
            "data_rate": {
                "lora": {"bandwidth": 125000, "spreading_factor": 9, "coding_rate": "4/5"}
            },
            "frequency": "470500000",
        },
        "received_at": "2026-01-01T00:00:01.600Z",
        "consumed_airtime": "0.185344s",
    }
    if frm is not None:
        up["frm_payload"] = base64.b64encode(frm).decode()
    if decoded is not None:
        up["decoded_payload"] = decoded
    return {
        "end_device_ids": {
            "device_id": "soil-07",
            "application_ids": {"application_id": "farm-app"},
            "dev_eui": DEV_EUI.upper(),
            "join_eui": "0000000000000000",
            "dev_addr": "260B1234",
        },
        "correlation_ids": ["as:up:01HZX3M8Q4Z5K2F7E9R1T6Y8W0", "gs:uplink:01HZX3M8PJ"],
        "received_at": "2026-01-01T00:00:01.700Z",
        "uplink_message": up,
    }


def env(doc: dict[str, Any] | bytes, topic: str = CS_TOPIC) -> tuple[bytes, Envelope]:
    """Payload bytes and an envelope for them."""
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return payload, Envelope(
        payload=payload,
        topic=topic,
        family="agri",
        device_id=DEV_EUI,
        received_ns=1_767_225_600_000_000_000,
        gateway_id="gw-test",
    )
