"""Erasure of a data subject (Arts. 41-44): signed erasure events; commitments kept; values, key gone.

``erase_subject`` runs in one transaction: for every stored row of the subject it appends a signed
erasure event (``supersede``, action ``erase``), stores the salted commitment the row's leaf
committed to in ``pi_erased``, nulls the personal columns (the one update the dataset table's
``erasure_guard`` allows) and destroys the subject's key. Afterwards ``provenance verify`` and the
row's inclusion proof still hold, through the stored commitment, and nothing in the database opens
it. ``vacuum_erased`` then removes the dead row versions that still held the old values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql

from processors.catalog import Catalog, DatasetEntry
from processors.provenance.corrections import CorrectionError, supersede
from processors.provenance.keys import Signer
from processors.provenance.personal import (
    commitment,
    lock_key_for_erasure,
    subject_item,
    subject_ref,
)
from processors.provenance.rawshred import request_raw_shred
from processors.provenance.rowdocs import data_columns, data_row_doc, data_row_sha256
from processors.storage.ddl import erasable_columns

__all__ = ["ErasureResult", "erase_subject", "vacuum_erased"]


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure did: the records erased and their signed erasure events."""

    dataset: str
    records: tuple[str, ...]
    correction_ids: tuple[str, ...]
    # raw epoch keys marked for destruction (processors.provenance.rawshred)
    raw_keys_marked: int = 0


def _personal_entry(catalog: Catalog, dataset: str) -> tuple[DatasetEntry, str]:
    entry = catalog.get(dataset)
    if entry is None:
        msg = f"dataset {dataset} is not in the catalog"
        raise CorrectionError(msg)
    name = subject_item(entry)
    if name is None:
        msg = f"dataset {dataset} holds no personal data of identifiable subjects"
        raise CorrectionError(msg)
    return entry, name


async def erase_subject(
    conn: AsyncConnection[Any],
    catalog: Catalog,
    signer: Signer,
    dataset: str,
    subject: str,
    *,
    legal_basis: str,
    reason: str = "erasure of a data subject",
    period_s: int = 86400,
) -> ErasureResult:
    """Erase every stored row of ``subject`` (the value of the dataset's identifier item)."""
    if not legal_basis:
        msg = "an erasure needs its legal basis"
        raise CorrectionError(msg)
    entry, name = _personal_entry(catalog, dataset)
    names = erasable_columns(entry)
    ref = subject_ref(dataset, subject)
    columns = data_columns(entry)
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT key_id FROM pi_subject_key WHERE dataset = %s AND subject_ref = %s "
            "AND data_key IS NOT NULL",
            (dataset, ref),
        )
        live = await cur.fetchone()
        if live is not None:
            # A sink storing rows sealed under this key finishes first; later ones see it destroyed.
            await lock_key_for_erasure(conn, str(live[0]))
        cur = await conn.execute(
            "SELECT data_key FROM pi_subject_key WHERE dataset = %s AND subject_ref = %s "
            "AND data_key IS NOT NULL FOR UPDATE",
            (dataset, ref),
        )
        found = await cur.fetchone()
        cur = await conn.execute(
            sql.SQL("SELECT {} FROM {} WHERE {} = %s ORDER BY observed_at").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                sql.Identifier(entry.storage_table), sql.Identifier(name),
            ),
            (subject,),
        )  # fmt: skip
        rows = await cur.fetchall()
        if not rows:
            msg = f"no stored {dataset} rows of this subject (already erased, or unknown)"
            raise CorrectionError(msg)
        if found is None:
            msg = "the subject has no key: its rows were logged with plain values and cannot be erased"
            raise CorrectionError(msg)
        key = bytes(found[0])
        now = datetime.now(UTC)
        erased: list[str] = []
        events: list[str] = []
        for values in rows:
            record_id, observed_at = values[3], values[0]
            commit = commitment(key, record_id, data_row_doc(entry, values), names)
            await _check_logged(conn, entry, values, commit)
            event = await supersede(
                conn, catalog, signer, record_id, action="erase", reason=reason,
                legal_basis=legal_basis, period_s=period_s,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO pi_erased (dataset, record_id, observed_at, commitment, "
                "correction_id, erased_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (dataset, record_id, observed_at, commit, event["correction_id"], now),
            )
            erased.append(record_id)
            events.append(str(event["correction_id"]))
        # The raw copies: the gateway's keys of the epochs that carried these rows' messages
        # (found through the rows' provenance before the subject's column is nulled).
        raw_marked = await request_raw_shred(
            conn, entry, name, subject, legal_basis=legal_basis, now=now
        )
        await conn.execute("SET LOCAL sg.erasure = 'on'")
        await _erase_corrections(conn, entry, names, erased)
        await conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                sql.Identifier(entry.storage_table),
                sql.SQL(", ").join(sql.SQL("{} = NULL").format(sql.Identifier(n)) for n in names),
                sql.Identifier(name),
            ),
            (subject,),
        )
        await conn.execute(
            "UPDATE pi_subject_key SET data_key = NULL, destroyed_at = %s, legal_basis = %s "
            "WHERE dataset = %s AND subject_ref = %s AND data_key IS NOT NULL",
            (now, legal_basis, dataset, ref),
        )
    return ErasureResult(dataset, tuple(erased), tuple(events), raw_marked)


async def _erase_corrections(
    conn: AsyncConnection[Any], entry: DatasetEntry, names: tuple[str, ...], records: list[str]
) -> None:
    """Remove the personal values from the corrections of the erased records.

    Their signed bodies hold only the commitment (processors.provenance.corrections), so the
    bodies still verify. A correction logged with plain values would keep them: refused.
    """
    cur = await conn.execute(
        "SELECT correction_id FROM correction WHERE dataset = %s AND record_id = ANY(%s) "
        "AND action = 'correct' AND pi_commitment IS NULL LIMIT 1",
        (entry.code, records),
    )
    plain = await cur.fetchone()
    if plain is not None:
        msg = f"correction {plain[0]} logged the personal values in plain; not erased"
        raise CorrectionError(msg)
    await conn.execute(
        "UPDATE correction SET new_values = new_values - %s::text[] WHERE dataset = %s "
        "AND record_id = ANY(%s) AND action = 'correct'",
        (list(names), entry.code, records),
    )


async def _check_logged(
    conn: AsyncConnection[Any], entry: DatasetEntry, values: Any, commit: str
) -> None:
    """Refuse to erase a row whose leaf did not commit to this commitment (verify would fail)."""
    cur = await conn.execute(
        "SELECT row_sha256 FROM tlog_leaf WHERE kind = 'record' AND dataset = %s AND ref_id = %s "
        "AND observed_at = %s",
        (entry.code, values[3], values[0]),
    )
    leaf = await cur.fetchone()
    if leaf is None or leaf[0] != data_row_sha256(entry, values, commit=commit):
        msg = f"record {values[3]} was not logged through its subject key; not erased"
        raise CorrectionError(msg)


async def vacuum_erased(conn: AsyncConnection[Any], catalog: Catalog, dataset: str) -> None:
    """VACUUM the key table and the dataset table so dead row versions lose the old values."""
    entry, _ = _personal_entry(catalog, dataset)
    await conn.commit()
    await conn.set_autocommit(True)
    try:
        for table in ("pi_subject_key", "raw_epoch_key", entry.storage_table):
            await conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))
    finally:
        await conn.set_autocommit(False)
