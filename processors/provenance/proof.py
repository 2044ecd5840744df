"""Inclusion proofs a third party can check without database access, and their verifier.

A proof (JSON, format ``sensegate-inclusion-proof/1``) holds the record's canonical row document,
the leaf document, the leaf's index, the audit path to the root of its period's tree at a signed
checkpoint, and the checkpoint with its signature and public key. ``verify_proof`` needs only
this file (and, to rule out a forged log, the operator's public key obtained independently).
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection, sql

from processors.catalog import Catalog, DatasetEntry
from processors.exceptions import ProcessorError
from processors.provenance.canonical import (
    CanonicalError,
    canonical_bytes,
    iso_utc,
    sha256_hex,
    to_json_types,
)
from processors.provenance.keys import verify_signature
from processors.provenance.log import LEAF_COLUMNS, leaf_doc
from processors.provenance.merkle import inclusion_proof, leaf_hash, root_from_inclusion
from processors.provenance.personal import live_subject_keys, subject_item, subject_of, subject_ref
from processors.provenance.rowdocs import (
    data_columns,
    data_row_doc,
    logged_row_doc,
)

__all__ = ["PROOF_FORMAT", "ProofError", "build_proof", "verify_proof"]

PROOF_FORMAT = "sensegate-inclusion-proof/1"


class ProofError(ProcessorError):
    """No proof can be built (unknown record, or no checkpoint covers it yet)."""


async def build_proof(
    conn: AsyncConnection[Any], catalog: Catalog, record_id: str, dataset: str | None = None
) -> dict[str, Any]:
    """Inclusion proof of the stored record ``record_id`` at the latest covering checkpoint."""
    query = f"SELECT {', '.join(LEAF_COLUMNS)} FROM tlog_leaf WHERE ref_id = %s AND kind = 'record'"  # noqa: S608
    params: list[Any] = [record_id]
    if dataset:
        query += " AND dataset = %s"
        params.append(dataset)
    cur = await conn.execute(query.encode() + b" ORDER BY period_start LIMIT 1", params)
    leaf = await cur.fetchone()
    if leaf is None:
        msg = f"record {record_id} is not in the log"
        raise ProofError(msg)
    entry = catalog.get(leaf[3])
    if entry is None:
        msg = f"dataset {leaf[3]} of record {record_id} is not in the catalog"
        raise ProofError(msg)
    cur = await conn.execute(
        "SELECT tree_size, body, signature, key_id, public_key FROM tlog_checkpoint "
        "WHERE period_start = %s AND tree_size > %s ORDER BY tree_size DESC LIMIT 1",
        (leaf[0], leaf[1]),
    )
    cp = await cur.fetchone()
    if cp is None:
        msg = f"record {record_id} is not yet covered by a checkpoint (run 'provenance checkpoint')"
        raise ProofError(msg)
    cur = await conn.execute(
        "SELECT leaf_hash FROM tlog_leaf WHERE period_start = %s AND leaf_index < %s "
        "ORDER BY leaf_index",
        (leaf[0], cp[0]),
    )
    hashes = [bytes.fromhex(h) for (h,) in await cur.fetchall()]
    columns = data_columns(entry)
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM {} WHERE record_id = %s AND observed_at = %s").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.Identifier(entry.storage_table),
        ),
        (record_id, leaf[5]),
    )
    row = await cur.fetchone()
    # The signed bodies as logged: a personal record's correction shows its values' commitment.
    cur = await conn.execute(
        "SELECT body, signature, key_id FROM correction "
        "WHERE dataset = %s AND record_id = %s ORDER BY created_at",
        (entry.code, record_id),
    )
    corrections = [
        {"event": json.loads(body), "signature": signature, "key_id": key_id}
        for body, signature, key_id in await cur.fetchall()
    ]
    record, erased = await _logged_record(conn, entry, row, leaf[8])
    return {
        "format": PROOF_FORMAT,
        "record": record,
        "erased": erased,
        "leaf": leaf_doc(*leaf[2:10]),
        "leaf_hash": leaf[10],
        "leaf_index": int(leaf[1]),
        "period_start": iso_utc(leaf[0]),
        "tree_size": int(cp[0]),
        "audit_path": [h.hex() for h in inclusion_proof(int(leaf[1]), hashes)],
        "checkpoint": {"body": cp[1], "signature": cp[2], "key_id": cp[3], "public_key": cp[4]},
        "corrections": to_json_types(corrections),
    }


async def _logged_record(
    conn: AsyncConnection[Any], entry: DatasetEntry, row: Any, row_sha256: str
) -> tuple[dict[str, Any] | None, bool]:
    """The row document the leaf committed to, and whether the record's personal data was erased.

    Rows of personal datasets logged through a subject key are shown as committed (personal
    columns as one salted commitment, processors/provenance/personal.py), erased or not.
    """
    if row is None:
        return None, False
    if subject_item(entry) is None:
        return data_row_doc(entry, row), False
    cur = await conn.execute(
        "SELECT commitment FROM pi_erased WHERE dataset = %s AND record_id = %s "
        "AND observed_at = %s",
        (entry.code, row[3], row[0]),
    )
    stored = await cur.fetchone()
    if stored is not None:
        return logged_row_doc(entry, row, commit=str(stored[0])), True
    subject = subject_of(entry, data_row_doc(entry, row))
    if subject is not None:
        keys = await live_subject_keys(conn, [(entry.code, subject_ref(entry.code, subject))])
        for key in keys.values():
            doc = logged_row_doc(entry, row, key=key)
            if sha256_hex(canonical_bytes(doc)) == row_sha256:
                return doc, False
    return data_row_doc(entry, row), False


def verify_proof(proof: dict[str, Any], trusted_public_key: str | None = None) -> list[str]:
    """Check a proof document; returns the problems found (empty when the proof holds)."""
    problems: list[str] = []
    if proof.get("format") != PROOF_FORMAT:
        return [f"unknown proof format {proof.get('format')!r}"]
    try:
        leaf, record, cp = proof["leaf"], proof["record"], proof["checkpoint"]
        body = json.loads(cp["body"])
        if record is None:
            problems.append("the stored row is missing: the record was deleted after logging")
        elif sha256_hex(canonical_bytes(record)) != leaf["row"]:
            problems.append("record does not match the row hash committed in the leaf")
        elif record.get("record_id") != leaf["ref"]:
            problems.append("record id differs from the leaf's reference")
        digest = leaf_hash(canonical_bytes(leaf))
        if digest.hex() != proof["leaf_hash"]:
            problems.append("leaf hash does not match the leaf document")
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        size, index = int(proof["tree_size"]), int(proof["leaf_index"])
        if body.get("tree_size") != size or body.get("period_start") != proof["period_start"]:
            problems.append("checkpoint covers another tree than the proof claims")
        try:
            root = root_from_inclusion(index, size, digest, path).hex()
        except ValueError as exc:
            problems.append(f"audit path malformed: {exc}")
        else:
            if root != body.get("root"):
                problems.append("audit path does not lead to the signed root")
        if not verify_signature(cp["public_key"], cp["signature"], cp["body"].encode()):
            problems.append("checkpoint signature invalid")
        if trusted_public_key is not None and cp["public_key"] != trusted_public_key:
            problems.append("checkpoint signed by a key other than the trusted one")
    except (CanonicalError, KeyError, TypeError, ValueError) as exc:
        problems.append(f"malformed proof: {exc!r}")
    return problems
