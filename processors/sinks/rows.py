"""Turn consumed data-topic records into typed table rows, or into dead letters, before any SQL.

Checks here are the sink's own: the dataset is catalogued and the version known, the value parses
as a ``DatasetRecord`` (msgspec's strict decoder of its wire form first; what that refuses goes to
the pydantic model, which decides and words the refusal as before), the record id matches its natural key, every value has its item's type
(doubles finite, integers integral, no NUL in text) and required items are present. Range and
plausibility checks belong to the normalize stage.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from pydantic import ValidationError

from contracts.dead_letter import ReasonCode
from contracts.errors import Rejected
from contracts.record import (
    DatasetRecord,
    RecordValue,
    WireGeoPoint,
    WireRecord,
    WireSealedRecord,
    decode_wire_record,
    decode_wire_sealed,
    record_id_for,
)
from contracts.sealed import SEALED_FIELD_KID, SealInvalid, kid_of
from processors.catalog import Catalog, DatasetEntry
from processors.catalog.models import Item
from processors.exceptions import ProcessorError
from processors.provenance.personal import KeyRow, subject_item, subject_ref
from processors.provenance.rowdocs import PROVENANCE_COLUMNS, data_columns
from processors.provenance.sealed_records import open_model, open_wire
from processors.sinks.base import SinkInput

__all__ = [
    "PROVENANCE_COLUMNS",
    "PreparedRow",
    "RowRejected",
    "coerce_values",
    "data_columns",
    "data_row",
    "parse_record",
    "prepare",
    "provenance_id_for",
    "provenance_row",
]

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_SUB_MICRO = re.compile(rb"T\d\d:\d\d:\d\d\.\d{7}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RowRejected(ProcessorError, Rejected):
    """A record cannot be stored; carries the dead-letter reason and detail."""


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A validated record with its values in item order, ready for COPY."""

    entry: DatasetEntry
    record: WireRecord | DatasetRecord
    values: tuple[RecordValue, ...]
    provenance_id: str
    source: SinkInput
    kid: str | None = None  # the subject key a sealed record was opened with


def provenance_id_for(record: WireRecord | DatasetRecord) -> str:
    """Id of the provenance row: one per raw message (its Kafka coordinates and hash) and dataset."""
    p = record.provenance
    basis = f"{p.kafka_topic}\x1f{p.kafka_partition}\x1f{p.kafka_offset}\x1f{p.raw_sha256}"
    return hashlib.sha256(f"{basis}\x1f{record.dataset}".encode()).hexdigest()[:32]


def _coerce(kind: str, name: str, value: Any) -> RecordValue:
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"item {name}: {type(value).__name__} is not a double"
            raise RowRejected(ReasonCode.DATA_REJECTED, msg)
        out = float(value)
        if not math.isfinite(out):
            msg = f"item {name}: {value!r} is not finite"
            raise RowRejected(ReasonCode.DATA_REJECTED, msg)
        return out
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"item {name}: {value!r} is not an integer"
            raise RowRejected(ReasonCode.DATA_REJECTED, msg)
        if not _INT_MIN <= value <= _INT_MAX:
            msg = f"item {name}: {value} does not fit 64 bits"
            raise RowRejected(ReasonCode.DATA_REJECTED, msg)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            msg = f"item {name}: {value!r} is not a boolean"
            raise RowRejected(ReasonCode.DATA_REJECTED, msg)
        return value
    if not isinstance(value, str):
        msg = f"item {name}: {type(value).__name__} is not text"
        raise RowRejected(ReasonCode.DATA_REJECTED, msg)
    if "\x00" in value:
        msg = f"item {name}: text contains NUL"
        raise RowRejected(ReasonCode.DATA_REJECTED, msg)
    return value


# Item names per catalog entry, keyed by identity: hashing frozen models costs more than the set.
_NAMES: dict[int, tuple[tuple[Item, ...], frozenset[str]]] = {}


def _item_names(items: tuple[Item, ...]) -> frozenset[str]:
    hit = _NAMES.get(id(items))
    if hit is None or hit[0] is not items:  # the strong reference keeps the id from being reused
        hit = _NAMES[id(items)] = (items, frozenset(i.name for i in items))
    return hit[1]


def coerce_values(entry: DatasetEntry, values: Mapping[str, Any]) -> tuple[RecordValue, ...]:
    """Values in item order with the catalog types; raises RowRejected."""
    known = _item_names(entry.items)
    if not known.issuperset(values):
        unknown = sorted(set(values) - known)
        msg = f"items not in {entry.code} v{entry.version}: {', '.join(unknown)}"
        raise RowRejected(ReasonCode.DATA_REJECTED, msg)
    out: list[RecordValue] = []
    for item in entry.items:
        value = values.get(item.name)
        if value is None:
            if item.required:
                msg = f"required item {item.name} is missing"
                raise RowRejected(ReasonCode.DATA_REJECTED, msg)
            out.append(None)
        else:
            out.append(_coerce(item.type, item.name, value))
    return tuple(out)


def _dataset_of(topic: str, prefix: str) -> str:
    head = f"{prefix}data."
    return topic[len(head) :] if topic.startswith(head) else ""


def _check_text(*values: str) -> None:
    for v in values:
        if "\x00" in v:
            raise RowRejected(ReasonCode.DATA_REJECTED, "identifier contains NUL")


def prepare(
    item: SinkInput,
    catalog: Catalog,
    topic_prefix: str,
    keys: Mapping[str, KeyRow] | None = None,
) -> PreparedRow:
    """Validate one consumed record against the catalog, opening it when sealed; raises RowRejected.

    ``keys`` are the live subject keys by id; a sealed record whose key is not among them is
    refused as ``subject_erased`` (its key was destroyed), never stored or passed on in clear.
    """
    code = _dataset_of(item.topic, topic_prefix)
    entry = catalog.get(code)
    if entry is None:
        msg = f"dataset {code or item.topic!r} is not in the catalog"
        raise RowRejected(ReasonCode.UNKNOWN_DATASET, msg)
    record = parse_record(item.value or b"")
    if record.dataset != code:
        msg = f"record of {record.dataset!r} on the topic of {code!r}"
        raise RowRejected(ReasonCode.DATA_REJECTED, msg)
    if record.catalog_version != entry.version:
        msg = f"{code} catalog version {record.catalog_version} unknown (have {entry.version})"
        raise RowRejected(ReasonCode.UNKNOWN_CATALOG_VERSION, msg)
    if record.record_id != record_id_for(code, record.natural_key):
        raise RowRejected(ReasonCode.DATA_REJECTED, "record_id does not match the natural key")
    for ts in (record.observed_at, record.received_at):
        if ts.tzinfo is None:
            raise RowRejected(ReasonCode.DATA_REJECTED, "timestamp without time zone")
    p = record.provenance
    _check_text(record.entity_id, record.natural_key, *record.quality, p.device_id, p.mqtt_topic)
    record, kid = _opened(record, entry, keys or {})
    values = coerce_values(entry, record.values)
    return PreparedRow(entry, record, values, provenance_id_for(record), item, kid)


def _opened(
    record: WireRecord | DatasetRecord, entry: DatasetEntry, keys: Mapping[str, KeyRow]
) -> tuple[WireRecord | DatasetRecord, str | None]:
    """The plain record of a sealed one and its key id; a plain record as is."""
    token = getattr(record, "sealed", None)
    if token is None:
        return record, None

    def lookup(k: str) -> bytes | None:
        row = keys.get(k)
        return row.key if row is not None and row.dataset == entry.code else None

    try:
        kid = kid_of(token)
        if isinstance(record, WireSealedRecord):
            plain: WireRecord | DatasetRecord = open_wire(record, lookup)
        else:
            plain = open_model(record, lookup)
        name = subject_item(entry)
        subject = plain.values.get(name) if name else None
        if subject is None or subject_ref(entry.code, str(subject)) != keys[kid].subject_ref:
            msg = f"sealed record {record.record_id} is not under its own subject's key"
            raise SealInvalid(msg)
    except Rejected as exc:
        raise RowRejected(exc.reason, exc.detail) from exc
    return plain, kid


def parse_record(value: bytes) -> WireRecord | DatasetRecord:
    """The record in a data-topic value; raises RowRejected.

    msgspec's typed decoder accepts only the exact wire form (what normalize writes); anything else
    goes to the pydantic model, whose lax rules and error texts stay the sink's contract.
    """
    # msgspec rounds a fraction finer than microseconds where pydantic truncates: leave those to it.
    if not _SUB_MICRO.search(value):
        try:
            return decode_wire_record(value)
        except msgspec.MsgspecError:
            pass
        if SEALED_FIELD_KID.search(value):
            try:
                return decode_wire_sealed(value)
            except msgspec.MsgspecError:
                pass
    try:
        return DatasetRecord.from_kafka_value(value)
    except ValidationError as exc:
        msg = f"not a dataset record: {exc.errors()[0]['msg']}"
        raise RowRejected(ReasonCode.DATA_REJECTED, msg) from exc


def _location(point: object) -> dict[str, Any] | None:
    if point is None:
        return None
    if isinstance(point, WireGeoPoint):
        return {"lat": point.lat, "lon": point.lon, "elevation_m": point.elevation_m}
    return point.model_dump()  # type: ignore[attr-defined, no-any-return]


def data_row(row: PreparedRow, ingested_at: datetime) -> tuple[Any, ...]:
    """Column values of a dataset table row, in ``data_columns`` order."""
    r = row.record
    location = _location(r.location)
    core = (
        r.observed_at, r.received_at, ingested_at, r.record_id, r.entity_id, r.natural_key,
        list(r.quality), location, row.provenance_id, r.catalog_version,
    )  # fmt: skip
    return core + row.values


def provenance_row(row: PreparedRow, ingested_at: datetime) -> tuple[Any, ...]:
    """Column values of the provenance row of a record, in ``PROVENANCE_COLUMNS`` order."""
    p, r, s = row.record.provenance, row.record, row.source
    received_at = _EPOCH + timedelta(microseconds=p.received_ns // 1000)  # truncated to µs
    return (
        row.provenance_id, p.raw_sha256, p.device_id, p.gateway_id, p.mqtt_topic,
        received_at,
        p.received_ns, p.kafka_topic, p.kafka_partition, p.kafka_offset, p.codec,
        p.codec_version, p.processor_version, p.pseudonym_key_id, r.dataset, r.catalog_version,
        s.topic, s.partition, s.offset, ingested_at, p.profile, _source_values(row.record),
    )  # fmt: skip


def _source_values(record: WireRecord | DatasetRecord) -> str | None:
    """Canonical JSON of the converted originals (text, so writer and verifier hash the same)."""
    if not record.provenance.source_values:
        return None
    doc = [
        {"item": v.item, "field": v.field, "value": v.value, "unit": v.unit}
        for v in record.provenance.source_values
    ]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
