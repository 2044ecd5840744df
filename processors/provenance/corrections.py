"""Corrections and lawful erasures (Art. 30): signed log events that supersede a record.

Nothing stored is edited. A correction carries the record's complete new item values (the latest
state merged with the requested changes); an erasure removes the record from ``<table>_current``.
The original row and its leaf stay, so the original remains provable; the event itself is a new
leaf on the record source's hash chain and is signed with the log key. For a personal dataset the
signed body holds the personal values only as a salted commitment through the subject key
(``pi_commitment``, ``pi_key_id``), so that erasing the subject can remove them
(processors.provenance.erasure).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from processors.catalog import Catalog, DatasetEntry
from processors.exceptions import ProcessorError
from processors.provenance.canonical import canonical_bytes, sha256_hex
from processors.provenance.keys import Signer
from processors.provenance.log import LeafInput, append_leaves
from processors.provenance.personal import (
    commitment,
    committed_doc,
    live_sealing_key,
    subject_of,
)
from processors.provenance.rowdocs import CORRECTION_COLUMNS, record_doc
from processors.sinks.rows import RowRejected, coerce_values
from processors.storage.ddl import erasable_columns

__all__ = ["CorrectionError", "supersede"]


class CorrectionError(ProcessorError):
    """The correction request is invalid (unknown record, bad values, missing legal basis)."""


async def supersede(
    conn: AsyncConnection[Any],
    catalog: Catalog,
    signer: Signer,
    record_id: str,
    *,
    action: Literal["correct", "erase"],
    reason: str,
    values: dict[str, Any] | None = None,
    legal_basis: str | None = None,
    period_s: int = 86400,
) -> dict[str, Any]:
    """Append a signed correction or erasure event for ``record_id``; returns the event."""
    if action == "erase" and not legal_basis:
        msg = "an erasure needs its legal basis"
        raise CorrectionError(msg)
    if action == "correct" and not values:
        msg = "a correction needs the new values"
        raise CorrectionError(msg)
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT dataset, observed_at, source FROM tlog_leaf "
            "WHERE ref_id = %s AND kind = 'record' ORDER BY period_start LIMIT 1",
            (record_id,),
        )
        found = await cur.fetchone()
        if found is None:
            msg = f"record {record_id} is not in the log"
            raise CorrectionError(msg)
        dataset, observed_at, source = found
        entry = catalog.get(dataset)
        if entry is None:
            msg = f"dataset {dataset} is not in the catalog"
            raise CorrectionError(msg)
        cur = await conn.execute(
            "SELECT correction_id, action, new_values FROM correction WHERE dataset = %s "
            "AND record_id = %s ORDER BY created_at DESC, correction_id DESC LIMIT 1",
            (dataset, record_id),
        )
        latest = await cur.fetchone()
        if latest is not None and latest[1] == "erase":
            msg = f"record {record_id} was erased; nothing to supersede"
            raise CorrectionError(msg)
        new_values: dict[str, Any] | None = None
        before: dict[str, Any] = {}
        if action == "correct":
            if latest is not None:
                current = dict(latest[2])
            else:
                names = [i.name for i in entry.items]
                cur = await conn.execute(
                    sql.SQL("SELECT {} FROM {} WHERE record_id = %s AND observed_at = %s").format(
                        sql.SQL(", ").join(sql.Identifier(n) for n in names),
                        sql.Identifier(entry.storage_table),
                    ),
                    (record_id, observed_at),
                )
                row = await cur.fetchone()
                if row is None:
                    msg = f"the stored row of {record_id} is missing"
                    raise CorrectionError(msg)
                current = dict(zip(names, row, strict=True))
            before = dict(current)
            current.update(values or {})
            try:
                typed = coerce_values(entry, current)
            except RowRejected as exc:
                raise CorrectionError(exc.detail) from exc
            new_values = {i.name: v for i, v in zip(entry.items, typed, strict=True)}
        created_at = datetime.now(UTC)
        correction_id = uuid.uuid4().hex
        committed = await _commit_personal(conn, entry, correction_id, before, new_values)
        logged = new_values if committed is None else committed.logged
        event = (
            correction_id, dataset, record_id, observed_at, action, logged, reason,
            legal_basis, latest[0] if latest else None, created_at,
        )  # fmt: skip
        body = canonical_bytes(record_doc("correction", CORRECTION_COLUMNS, event))
        signature = signer.sign(body)
        await conn.execute(
            f"INSERT INTO correction ({', '.join(CORRECTION_COLUMNS)}, body, signature, key_id, "  # noqa: S608
            "pi_commitment, pi_key_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (*event[:5], Jsonb(new_values) if new_values is not None else None, *event[6:],
             body.decode(), signature, signer.key_id,
             committed.commitment if committed else None, committed.kid if committed else None),
        )  # fmt: skip
        leaf = LeafInput("correction", dataset, event[0], observed_at, source, sha256_hex(body))
        await append_leaves(conn, [leaf], created_at, period_s)
    return {**json.loads(body), "signature": signature, "key_id": signer.key_id}


@dataclass(frozen=True, slots=True)
class _Committed:
    """A personal correction's values as logged, their commitment and the subject key's id."""

    logged: dict[str, Any]
    commitment: str
    kid: str


async def _commit_personal(
    conn: AsyncConnection[Any],
    entry: DatasetEntry,
    correction_id: str,
    before: dict[str, Any],
    new_values: dict[str, Any] | None,
) -> _Committed | None:
    """The committed form of a personal record's new values, under its subject's key.

    The subject is the record's as stored before this correction. None when nothing needs
    committing, or when the subject has no key (rows logged before subject keys existed are
    corrected in plain, as they were logged).
    """
    names = erasable_columns(entry)
    subject = subject_of(entry, before)
    if new_values is None or not names or subject is None:
        return None
    live = await live_sealing_key(conn, entry.code, subject)
    if live is None:
        return None
    kid, key = live
    # As the jsonb column will give the values back to verify (floats, ints, text).
    plain = json.loads(json.dumps(new_values))
    commit = commitment(key, correction_id, plain, names)
    return _Committed(committed_doc(plain, names, commit), commit, kid)
