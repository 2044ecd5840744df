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
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from contracts.sealed import KEY_BYTES, new_key_id
from processors.catalog import DatasetEntry
from processors.provenance.canonical import canonical_bytes
from processors.storage.ddl import erasable_columns

__all__ = [
    "KeyRow",
    "SealingKeys",
    "SubjectKeys",
    "commitment",
    "committed_doc",
    "ensure_sealing_keys",
    "ensure_subject_keys",
    "keys_by_id",
    "live_sealing_key",
    "live_subject_keys",
    "lock_key_for_erasure",
    "subject_item",
    "subject_of",
    "subject_ref",
]

SubjectKeys = dict[tuple[str, str], bytes]
# (dataset, subject_ref) -> (key id, key): what a producer seals a subject's values with.
SealingKeys = dict[tuple[str, str], tuple[str, bytes]]


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
    return {pair: key for pair, (_, key) in (await ensure_sealing_keys(conn, wanted)).items()}


async def ensure_sealing_keys(
    conn: AsyncConnection[Any], wanted: set[tuple[str, str]]
) -> SealingKeys:
    """Live keys and their ids of ``(dataset, subject_ref)`` pairs, creating missing ones.

    Whoever first meets a subject creates its key (the normalizer, which seals the subject's values
    on the data topic, or the sink); ``ON CONFLICT DO NOTHING`` makes concurrent creators agree.
    """
    if not wanted:
        return {}
    pairs = sorted(wanted)  # a fixed order: concurrent writers cannot deadlock on the unique index
    await conn.execute(
        "INSERT INTO pi_subject_key (dataset, subject_ref, data_key, key_id) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::bytea[], %s::text[]) "
        "ON CONFLICT (dataset, subject_ref) WHERE data_key IS NOT NULL DO NOTHING",
        (
            [d for d, _ in pairs], [s for _, s in pairs],
            [os.urandom(KEY_BYTES) for _ in pairs], [new_key_id() for _ in pairs],
        ),
    )  # fmt: skip
    cur = await conn.execute(
        "SELECT dataset, subject_ref, key_id, data_key FROM pi_subject_key "
        "WHERE data_key IS NOT NULL "
        "AND (dataset, subject_ref) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([d for d, _ in pairs], [s for _, s in pairs]),
    )
    return {(d, s): (k, bytes(key)) for d, s, k, key in await cur.fetchall()}


async def live_sealing_key(
    conn: AsyncConnection[Any], dataset: str, subject: str
) -> tuple[str, bytes] | None:
    """The live key (id, key) of ``subject`` in ``dataset``, without creating one; None if erased."""
    cur = await conn.execute(
        "SELECT key_id, data_key FROM pi_subject_key WHERE dataset = %s AND subject_ref = %s "
        "AND data_key IS NOT NULL",
        (dataset, subject_ref(dataset, subject)),
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))


_BY_ID = (
    b"SELECT key_id, dataset, subject_ref, data_key FROM pi_subject_key "
    b"WHERE data_key IS NOT NULL AND key_id = ANY(%s)"
)
# Transaction-scoped advisory locks per key id (namespace, hashtext(key id)): shared by writers of
# rows sealed under the key, exclusive for the erasure that destroys it. Row locks (FOR SHARE)
# would need UPDATE privilege on the key table, which no writer should hold.
KEY_LOCK_SPACE = 0x5E6B
_SHARED_LOCKS = b"SELECT pg_advisory_xact_lock_shared(%s, hashtext(k)) FROM unnest(%s::text[]) AS k"


async def lock_key_for_erasure(conn: AsyncConnection[Any], kid: str) -> None:
    """Wait until no transaction stores rows sealed under ``kid``, and keep others out till commit."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (KEY_LOCK_SPACE, kid))


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A live subject key found by its id: whose it is, and the key."""

    dataset: str
    subject_ref: str
    key: bytes


async def keys_by_id(
    conn: AsyncConnection[Any], kids: set[str], *, lock: bool = False
) -> dict[str, KeyRow]:
    """Live subject keys by key id; a destroyed or unknown id is absent.

    With ``lock`` the keys are locked (shared) until the transaction ends, so an erasure (which
    takes the same lock exclusively) cannot destroy a key while rows sealed under it are stored.
    """
    if not kids:
        return {}
    if lock:
        await conn.execute(_SHARED_LOCKS, (KEY_LOCK_SPACE, sorted(kids)))
    cur = await conn.execute(_BY_ID, (sorted(kids),))
    return {k: KeyRow(d, s, bytes(key)) for k, d, s, key in await cur.fetchall()}


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
