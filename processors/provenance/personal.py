"""Personal items committed through per-subject keys, so that erasure can make them unrecoverable.

For a dataset whose catalog category includes ``personal``, the columns that carry personal data
(items with a ``sensitivity``, and the ``location`` core column) do not enter a row's logged hash
as plain values but as one salted commitment ``SHA-256(salt || canonical {column: value})`` whose
salt is ``HMAC-SHA256(subject key, record_id)``; the subject key is a random 256-bit key in
``pi_subject_key``, one per data subject (the dataset's identifier item, a keyed pseudonym).
Erasure stores the commitment, nulls the plain columns and destroys the key: the leaf still
verifies, and the commitment no longer reveals anything (docs/provenance.md, "Erasure").
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection

from processors.catalog import DatasetEntry
from processors.provenance.canonical import canonical_bytes
from processors.storage.ddl import erasable_columns

__all__ = [
    "SubjectKeys",
    "commitment",
    "committed_doc",
    "ensure_subject_keys",
    "live_subject_keys",
    "subject_item",
    "subject_of",
    "subject_ref",
]

SubjectKeys = dict[tuple[str, str], bytes]


def subject_item(entry: DatasetEntry) -> str | None:
    """The item naming the data subject (the first ``identifier`` item) of a personal dataset."""
    if not erasable_columns(entry):
        return None
    return next((i.name for i in entry.items if i.sensitivity == "identifier"), None)


def subject_of(entry: DatasetEntry, doc: Mapping[str, Any]) -> str | None:
    """The subject of a row document (its identifier value), or None when it has none."""
    name = subject_item(entry)
    value = doc.get(name) if name else None
    return None if value is None else str(value)


def subject_ref(dataset: str, subject: str) -> str:
    """The key table's handle of a subject: a hash, so the table holds no identifier itself."""
    return hashlib.sha256(f"{dataset}\x1f{subject}".encode()).hexdigest()


def commitment(key: bytes, record_id: str, doc: Mapping[str, Any], names: Sequence[str]) -> str:
    """Salted commitment of a row document's non-null personal columns ``names``, hex."""
    salt = hmac.new(key, record_id.encode(), hashlib.sha256).digest()
    values = {n: doc[n] for n in names if doc.get(n) is not None}
    return hashlib.sha256(salt + canonical_bytes(values)).hexdigest()


def committed_doc(doc: Mapping[str, Any], names: Sequence[str], commit: str) -> dict[str, Any]:
    """The row document as logged: personal columns replaced by their ``_pi`` commitment."""
    out = {k: v for k, v in doc.items() if k not in names}
    out["_pi"] = commit
    return out


async def ensure_subject_keys(
    conn: AsyncConnection[Any], wanted: set[tuple[str, str]]
) -> SubjectKeys:
    """Live keys of ``(dataset, subject_ref)`` pairs, creating the missing ones in this transaction."""
    if not wanted:
        return {}
    pairs = sorted(wanted)  # a fixed order: concurrent sinks cannot deadlock on the unique index
    await conn.execute(
        "INSERT INTO pi_subject_key (dataset, subject_ref, data_key) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::bytea[]) "
        "ON CONFLICT (dataset, subject_ref) WHERE data_key IS NOT NULL DO NOTHING",
        ([d for d, _ in pairs], [s for _, s in pairs], [os.urandom(32) for _ in pairs]),
    )
    return await live_subject_keys(conn, pairs)


async def live_subject_keys(
    conn: AsyncConnection[Any], pairs: Sequence[tuple[str, str]] | None = None
) -> SubjectKeys:
    """Live (not destroyed) subject keys: of ``pairs``, or all of them."""
    query = "SELECT dataset, subject_ref, data_key FROM pi_subject_key WHERE data_key IS NOT NULL"
    params: tuple[Any, ...] = ()
    if pairs is not None:
        query += " AND (dataset, subject_ref) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
        params = ([d for d, _ in pairs], [s for _, s in pairs])
    cur = await conn.execute(query.encode(), params)
    return {(d, s): bytes(k) for d, s, k in await cur.fetchall()}
