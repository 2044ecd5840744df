"""Dataset record: one normalized observation of a catalog dataset, as carried on ``<prefix>data.<code>``.

Kafka form: key = ``entity_id`` (UTF-8), value = the model's JSON (``DatasetRecord.to_kafka_value``).
Values are in the catalog's canonical units (UCUM codes declared per item in the catalog), so a record
carries no units itself (values a device profile converted keep their original value and unit in
``provenance.source_values``). Personal identifiers are pseudonymized before a record is built
(``entity_id`` and any identifier items); ``provenance.pseudonym_key_id`` names the key used.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from datetime import datetime
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, cast, get_args, get_origin

import msgspec
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DatasetRecord",
    "GeoPoint",
    "Provenance",
    "RecordValue",
    "SourceValue",
    "WireGeoPoint",
    "WireProvenance",
    "WireRecord",
    "WireSealedRecord",
    "WireSourceValue",
    "decode_wire_record",
    "decode_wire_sealed",
    "record_id_for",
    "wire_fields",
    "wire_point",
    "wire_to_model",
]

RecordValue = float | int | str | bool | None


class GeoPoint(BaseModel):
    """WGS-84 position in degrees, elevation in metres."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    elevation_m: float | None = None


class SourceValue(BaseModel):
    """A value as the device sent it, kept when its profile scaled or converted it for an item."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str
    field: str
    value: float
    unit: str | None = None


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
    # device profile (``name@version``) that mapped the payload's fields to items, if any
    profile: str | None = None
    # original value and unit of every item the profile scaled or converted
    source_values: tuple[SourceValue, ...] = ()


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
    # Set only on a superseding record (share tier): the id of the signed correction event that
    # replaced the earlier version of this record id; left out of the JSON when unset.
    supersedes: str | None = None
    # Set only on a record of a personal dataset whose personal items (and location) are sealed
    # under the data subject's key (contracts.sealed; left out of ``values``/``location``); left
    # out of the JSON when unset.
    sealed: str | None = None

    def kafka_key(self) -> bytes:
        """Record key: the entity, so one entity's records keep their order."""
        return self.entity_id.encode()

    def to_kafka_value(self) -> bytes:
        """Serialize to the JSON value carried on the data topic."""
        unset = {n for n in ("supersedes", "sealed") if getattr(self, n) is None}
        return self.model_dump_json(exclude=unset or None).encode()

    @classmethod
    def from_kafka_value(cls, value: bytes) -> DatasetRecord:
        """Parse and validate a data-topic value."""
        return cls.model_validate_json(value)


# The wire form of the models above for the hot paths: msgspec structs generated from the models'
# fields (same names, order, defaults and bounds, so the same JSON), so the field lists are written
# once. The normalize stage builds them without validation (it has checked every value column-wise
# against the catalog) and serializes them; the sink decodes data-topic values into them with
# msgspec's strict typed decoder (falling back to the pydantic model for what the strict form
# refuses). mypy checks the wire forms as the models they are generated from (same fields), and
# tests/unit/contracts/test_wire_record.py compares their JSON with the models'.
_WIRE: dict[str, Any] = {"frozen": True, "gc": False, "forbid_unknown_fields": True}


class _WireRecordMethods(msgspec.Struct, **_WIRE):
    """What a wire record does besides carrying the fields."""

    def kafka_key(self) -> bytes:
        """Record key: the entity, so one entity's records keep their order."""
        return str(getattr(self, "entity_id")).encode()  # noqa: B009 (fields come from the model)

    def to_kafka_value(self) -> bytes:
        """The JSON value carried on the data topic (what ``DatasetRecord`` would write)."""
        return _encode(self)


def _wire_type(annotation: Any, structs: dict[type[BaseModel], Any]) -> Any:
    """``annotation`` with every model replaced by its wire struct."""
    if isinstance(annotation, type) and annotation in structs:
        return structs[annotation]
    args = get_args(annotation)
    if not args:
        return annotation
    new = tuple(_wire_type(a, structs) for a in args)
    if get_origin(annotation) in (Union, UnionType):
        return functools.reduce(operator.or_, new)
    return get_origin(annotation)[new]


def _wire_struct(
    model: type[BaseModel],
    structs: dict[type[BaseModel], Any],
    *,
    skip: frozenset[str] = frozenset(),
) -> Any:
    """A msgspec struct with ``model``'s fields (bounds kept; ``skip`` left out)."""
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        tp = _wire_type(info.annotation, structs)
        bounds = {
            key: getattr(m, key) for m in info.metadata for key in ("ge", "le") if hasattr(m, key)
        }
        if bounds:
            tp = Annotated[tp, msgspec.Meta(**bounds)]
        fields.append((name, tp) if info.is_required() else (name, tp, info.default))
    record = model is DatasetRecord
    struct = msgspec.defstruct(
        f"Wire{model.__name__}",
        fields,
        bases=(_WireRecordMethods,) if record else None,
        module=__name__,
        kw_only=record,  # its required provenance follows fields with defaults
        **_WIRE,
    )
    struct.__doc__ = f"``{model.__name__}`` in wire form."
    structs[model] = struct
    return struct


if TYPE_CHECKING:
    WireGeoPoint = GeoPoint
    WireSourceValue = SourceValue
    WireProvenance = Provenance
    WireRecord = DatasetRecord
else:
    _structs: dict[type[BaseModel], Any] = {}
    WireGeoPoint = _wire_struct(GeoPoint, _structs)
    WireSourceValue = _wire_struct(SourceValue, _structs)
    WireProvenance = _wire_struct(Provenance, _structs)
    # ``supersedes`` exists only on share-tier records, which are built as models; ``sealed``
    # only on a personal dataset's records (``WireSealedRecord``)
    WireRecord = _wire_struct(DatasetRecord, _structs, skip=frozenset({"supersedes", "sealed"}))


def wire_point(point: GeoPoint | None) -> WireGeoPoint | None:
    """The wire form of a validated ``GeoPoint`` (None stays None)."""
    return (
        None
        if point is None
        else WireGeoPoint(lat=point.lat, lon=point.lon, elevation_m=point.elevation_m)
    )


def wire_to_model(record: WireRecord) -> DatasetRecord:
    """The validated ``DatasetRecord`` of a wire record."""
    return DatasetRecord.from_kafka_value(record.to_kafka_value())


class WireSealedRecord(WireRecord, kw_only=True, **_WIRE):
    """``DatasetRecord`` with ``sealed`` set, in wire form (a personal dataset's record)."""

    sealed: str


def wire_fields(record: WireRecord) -> dict[str, Any]:
    """A wire record's fields by name, without ``sealed`` (to build another wire record)."""
    fields: dict[str, Any] = msgspec.structs.asdict(cast("Any", record))
    fields.pop("sealed", None)
    return fields


_encode = msgspec.json.Encoder().encode
# Strict: a value must already have its JSON type (no string-to-number coercion as in pydantic).
decode_wire_record = msgspec.json.Decoder(WireRecord).decode
decode_wire_sealed = msgspec.json.Decoder(WireSealedRecord).decode


def record_id_for(dataset: str, natural_key: str) -> str:
    """Deterministic record id: SHA-256 of dataset and natural key, so duplicates share one id."""
    return hashlib.sha256(f"{dataset}\x1f{natural_key}".encode()).hexdigest()
