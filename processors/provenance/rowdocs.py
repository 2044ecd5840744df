"""Which columns of each logged table are hashed, and the canonical document built from them.

The sink (at insert) and the verifier (from the stored rows) both build leaves' row hashes here, so
the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from processors.catalog import DatasetEntry
from processors.provenance.canonical import canonical_bytes, iso_utc, sha256_hex, to_json_types
from processors.provenance.personal import commitment, committed_doc
from processors.storage.ddl import CORE_COLUMNS, erasable_columns

__all__ = [
    "CORRECTION_COLUMNS",
    "PROVENANCE_COLUMNS",
    "data_columns",
    "data_row_doc",
    "data_row_sha256",
    "logged_row_doc",
    "provenance_row_sha256",
    "record_doc",
]

PROVENANCE_COLUMNS: tuple[str, ...] = (
    "provenance_id", "raw_sha256", "device_id", "gateway_id", "mqtt_topic", "received_at",
    "received_ns", "raw_topic", "raw_partition", "raw_offset", "codec", "codec_version",
    "processor_version", "pseudonym_key_id", "catalog_code", "catalog_version", "data_topic",
    "data_partition", "data_offset", "ingested_at", "profile", "source_values",
)  # fmt: skip
# Columns added later are hashed only when not null, so rows written before them keep their hash.
_PROVENANCE_BASE = PROVENANCE_COLUMNS.index("profile")

CORRECTION_COLUMNS: tuple[str, ...] = (
    "correction_id", "dataset", "record_id", "observed_at", "action", "new_values", "reason",
    "legal_basis", "supersedes", "created_at",
)  # fmt: skip


# Values that are already plain JSON types; everything else goes through to_json_types.
_PLAIN = frozenset({str, int, float, bool, type(None)})
# Column names per catalog entry, keyed by the identity of its item tuple (hashing models is slow).
_COLUMNS: dict[int, tuple[Any, tuple[str, ...]]] = {}


def data_columns(entry: DatasetEntry) -> tuple[str, ...]:
    """Column names of a dataset table in COPY (and hashing) order."""
    hit = _COLUMNS.get(id(entry.items))
    if hit is None or hit[0] is not entry.items:  # the strong reference keeps the id unique
        names = tuple(n for n, _ in CORE_COLUMNS) + tuple(i.name for i in entry.items)
        hit = _COLUMNS[id(entry.items)] = (entry.items, names)
    return hit[1]


def record_doc(
    dataset: str, columns: Sequence[str], values: Sequence[Any], *, drop_null_items: int = 0
) -> dict[str, Any]:
    """Canonical document of a row; item columns (from index ``drop_null_items``) omit nulls.

    Omitting null items keeps old rows' hashes stable when a later catalog version adds a column.
    """
    doc: dict[str, Any] = {"_dataset": dataset}
    for i, (name, value) in enumerate(zip(columns, values, strict=True)):
        kind = type(value)
        if kind in _PLAIN:
            if value is None and drop_null_items and i >= drop_null_items:
                continue
            doc[name] = value
        elif kind is datetime:
            doc[name] = iso_utc(value)
        elif kind is list or kind is tuple:
            # The C encoder of canonical_bytes writes these (and timestamps in them, through
            # its default hook) exactly as to_json_types would convert them; no copy needed.
            doc[name] = value
        else:
            doc[name] = to_json_types(value)
    return doc


def data_row_doc(entry: DatasetEntry, values: Sequence[Any]) -> dict[str, Any]:
    """Canonical document of one dataset-table row given in ``data_columns`` order."""
    return record_doc(entry.code, data_columns(entry), values, drop_null_items=len(CORE_COLUMNS))


def logged_row_doc(
    entry: DatasetEntry,
    values: Sequence[Any],
    *,
    key: bytes | None = None,
    commit: str | None = None,
) -> dict[str, Any]:
    """The document a row's leaf commits to.

    With a subject ``key`` (or the stored ``commit`` of an erased row) a personal dataset's
    personal columns enter as one salted commitment (processors/provenance/personal.py); without
    either, as plain values (rows logged before subject keys existed, and non-personal datasets).
    """
    doc = data_row_doc(entry, values)
    names = erasable_columns(entry)
    if not names:
        return doc
    if commit is not None:
        return committed_doc(doc, names, commit)
    if key is not None:
        return committed_doc(doc, names, commitment(key, str(doc["record_id"]), doc, names))
    return doc


def data_row_sha256(
    entry: DatasetEntry,
    values: Sequence[Any],
    *,
    key: bytes | None = None,
    commit: str | None = None,
) -> str:
    """Row hash of one dataset-table row (see ``logged_row_doc``)."""
    return sha256_hex(canonical_bytes(logged_row_doc(entry, values, key=key, commit=commit)))


def provenance_row_sha256(values: Sequence[Any]) -> str:
    """Row hash of one provenance row given in ``PROVENANCE_COLUMNS`` order."""
    doc = record_doc("provenance", PROVENANCE_COLUMNS, values, drop_null_items=_PROVENANCE_BASE)
    return sha256_hex(canonical_bytes(doc))
