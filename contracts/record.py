"""Dataset record: one normalized observation of a catalog dataset, as carried on ``<prefix>data.<code>``.

Kafka form: key = ``entity_id`` (UTF-8), value = the model's JSON (``DatasetRecord.to_kafka_value``).
Values are in the catalog's canonical units (UCUM codes declared per item in the catalog), so a record
carries no units itself. Personal identifiers are pseudonymized before a record is built
(``entity_id`` and any identifier items); ``provenance.pseudonym_key_id`` names the key used.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DatasetRecord",
    "GeoPoint",
    "OutProvenance",
    "OutRecord",
    "Provenance",
    "RecordValue",
    "record_id_for",
]

RecordValue = float | int | str | bool | None


class GeoPoint(BaseModel):
    """WGS-84 position in degrees, elevation in metres."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    elevation_m: float | None = None


class Provenance(BaseModel):
    """Where a record came from: its raw message, the Kafka coordinates and the software that made it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw_sha256: str
    device_id: str
    gateway_id: str
    mqtt_topic: str
    received_ns: int
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    codec: str
    codec_version: str
    processor_version: str
    pseudonym_key_id: str | None = None


class DatasetRecord(BaseModel):
    """A normalized, validated record of one catalog dataset (immutable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    dataset: str
    catalog_version: int
    entity_id: str
    natural_key: str
    observed_at: datetime
    received_at: datetime
    values: dict[str, RecordValue]
    location: GeoPoint | None = None
    quality: tuple[str, ...] = ()
    provenance: Provenance

    def kafka_key(self) -> bytes:
        """Record key: the entity, so one entity's records keep their order."""
        return self.entity_id.encode()

    def to_kafka_value(self) -> bytes:
        """Serialize to the JSON value carried on the data topic."""
        return self.model_dump_json().encode()

    @classmethod
    def from_kafka_value(cls, value: bytes) -> DatasetRecord:
        """Parse and validate a data-topic value."""
        return cls.model_validate_json(value)


# The normalize stage's output form of the two models above: the same fields in the same order,
# built without validation (the stage has validated every value column-wise against the catalog)
# and serialized by msgspec. Building and serializing a record this way costs about a tenth of the
# pydantic model; tests/unit/contracts/test_out_record.py checks the JSON against the models'.
class OutProvenance(msgspec.Struct, frozen=True, gc=False):
    """``Provenance`` as built by the normalize stage (no validation; same JSON)."""

    raw_sha256: str
    device_id: str
    gateway_id: str
    mqtt_topic: str
    received_ns: int
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    codec: str
    codec_version: str
    processor_version: str
    pseudonym_key_id: str | None = None


class OutRecord(msgspec.Struct, frozen=True, gc=False):
    """``DatasetRecord`` as built by the normalize stage (no validation; same JSON)."""

    record_id: str
    dataset: str
    catalog_version: int
    entity_id: str
    natural_key: str
    observed_at: datetime
    received_at: datetime
    values: dict[str, RecordValue]
    location: Any  # GeoPoint | None (a pydantic model, encoded by _enc_hook)
    quality: tuple[str, ...]
    provenance: OutProvenance

    def kafka_key(self) -> bytes:
        """Record key: the entity, so one entity's records keep their order."""
        return self.entity_id.encode()

    def to_kafka_value(self) -> bytes:
        """The JSON value carried on the data topic (what ``DatasetRecord`` would write)."""
        return _encode(self)

    def to_model(self) -> DatasetRecord:
        """The validated ``DatasetRecord`` of this record."""
        return DatasetRecord.from_kafka_value(self.to_kafka_value())


def _enc_hook(value: object) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    msg = f"cannot serialize {type(value).__name__} in a dataset record"
    raise TypeError(msg)


_encode = msgspec.json.Encoder(enc_hook=_enc_hook).encode


def record_id_for(dataset: str, natural_key: str) -> str:
    """Deterministic record id: SHA-256 of dataset and natural key, so duplicates share one id."""
    return hashlib.sha256(f"{dataset}\x1f{natural_key}".encode()).hexdigest()
