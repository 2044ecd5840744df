"""Dead letters: what any stage writes to ``<prefix>dlq`` when input cannot be used, with a reason code.

Kafka form: key = device id (or empty), value = JSON document (see ``DeadLetter.to_json``) holding the
reason code, a human-readable detail, the stage, the original bytes (base64), the envelope metadata and,
when the input came from Kafka, its coordinates. Headers ``sg.reason`` and ``sg.stage`` repeat the two
fields so consumers can filter without parsing the value.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["DeadLetter", "ReasonCode", "Stage"]


class Stage(StrEnum):
    """Pipeline stage that refused the input."""

    GATEWAY = "gateway"
    NORMALIZE = "normalize"
    SINK = "sink"
    SHARE = "share"


class ReasonCode(StrEnum):
    """Why input was dead-lettered; the documented list lives in docs/dead-letters.md."""

    # gateway
    PAYLOAD_EMPTY = "payload_empty"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    TOPIC_UNROUTABLE = "topic_unroutable"
    # decoding (codecs)
    ENVELOPE_INVALID = "envelope_invalid"
    FRAMING_ERROR = "framing_error"
    DECODE_ERROR = "decode_error"
    DUPLICATE_KEY = "duplicate_key"
    UNSUPPORTED_MESSAGE = "unsupported_message"
    # validation and quality
    SCHEMA_INVALID = "schema_invalid"
    VALUE_NOT_FINITE = "value_not_finite"
    OUT_OF_RANGE = "out_of_range"
    MISSING_REQUIRED = "missing_required"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_OLD = "too_old"
    IDENTITY_MISMATCH = "identity_mismatch"
    PROFILE_MISMATCH = "profile_mismatch"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    # governance
    UNKNOWN_DEVICE = "unknown_device"
    NO_PROFILE = "no_profile"
    NOT_DATASET_PROVIDER = "not_dataset_provider"
    UNKNOWN_DATASET = "unknown_dataset"
    UNKNOWN_CATALOG_VERSION = "unknown_catalog_version"
    NO_CATALOG_ENTRY = "no_catalog_entry"
    AMBIGUOUS_CATALOG_ENTRY = "ambiguous_catalog_entry"
    SPARKPLUG_NO_BIRTH = "sparkplug_no_birth"
    # storage
    DATA_REJECTED = "data_rejected"
    OFFSET_GAP = "offset_gap"
    # crypto-shredding (contracts.sealed)
    SEAL_INVALID = "seal_invalid"
    SUBJECT_ERASED = "subject_erased"
    # sharing
    OPEN_RELEASE_BLOCKED = "open_release_blocked"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused input; ``source_identity`` lets the oracle count DLQ entries by distinct source."""

    reason: ReasonCode
    detail: str
    stage: Stage
    payload: bytes
    envelope: dict[str, Any] = field(default_factory=dict)
    coordinates: dict[str, Any] | None = None
    created_ns: int = field(default_factory=time.time_ns)

    @property
    def source_identity(self) -> str:
        """Stable identity of the refused input: SHA-256 over MQTT topic, receive time and payload."""
        basis = f"{self.envelope.get('topic', '')}|{self.envelope.get('received_ns', '')}|"
        # A sealed payload differs per seal (random nonce): its plain payload's hash identifies it.
        payload = (
            str(self.envelope["sha256"]).encode() if self.envelope.get("seal") else self.payload
        )
        return hashlib.sha256(basis.encode() + payload).hexdigest()

    def kafka_key(self) -> bytes:
        """Record key: the device id when known."""
        return str(self.envelope.get("device_id", "")).encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """Headers repeating reason and stage for cheap filtering."""
        return [("sg.reason", self.reason.value.encode()), ("sg.stage", self.stage.value.encode())]

    def to_json(self) -> bytes:
        """Serialize to the documented JSON value."""
        doc = {
            "reason": self.reason.value,
            "detail": self.detail,
            "stage": self.stage.value,
            "payload_b64": base64.b64encode(self.payload).decode(),
            "envelope": self.envelope,
            "coordinates": self.coordinates,
            "created_ns": self.created_ns,
            "source_identity": self.source_identity,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes) -> DeadLetter:
        """Parse a DLQ record value written by ``to_json``."""
        doc = json.loads(value)
        return cls(
            reason=ReasonCode(doc["reason"]),
            detail=doc["detail"],
            stage=Stage(doc["stage"]),
            payload=base64.b64decode(doc["payload_b64"]),
            envelope=doc.get("envelope") or {},
            coordinates=doc.get("coordinates"),
            created_ns=int(doc.get("created_ns", 0)),
        )
