"""Recompute the log from the stored rows and name every row altered, deleted or inserted afterwards.

Checks, in order: each leaf's hash against its own fields; per period, gap-free leaf numbering and
every checkpoint's root, signature (against trusted keys) and link to the previous checkpoint;
each source's hash chain; then every provenance row, data row and correction in the range against
the leaf that logged it. A logged row that is gone is *deleted* (or *expired* when the catalog's
retention explains it), a row whose hash differs is *altered*, a row without a leaf is *inserted*.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from processors.catalog import Catalog, DatasetEntry
from processors.provenance.canonical import canonical_bytes, iso_utc, sha256_hex
from processors.provenance.checkpoint import GENESIS
from processors.provenance.keys import verify_signature
from processors.provenance.log import LEAF_COLUMNS, leaf_doc, leaf_hash_hex, period_start
from processors.provenance.merkle import CompactRange
from processors.provenance.personal import (
    KeyRow,
    commitment,
    committed_doc,
    keys_by_id,
    live_subject_keys,
    subject_item,
    subject_of,
    subject_ref,
)
from processors.provenance.rowdocs import (
    CORRECTION_COLUMNS,
    PROVENANCE_COLUMNS,
    data_columns,
    data_row_doc,
    data_row_sha256,
    provenance_row_sha256,
    record_doc,
)
from processors.storage.ddl import erasable_columns

__all__ = ["INFO_KINDS", "Finding", "VerifyReport", "verify_store"]

# Findings that are reported but are not tampering.
INFO_KINDS = frozenset({"expired", "unsigned"})
Key = tuple[str, str, str]  # (table or "provenance"/"correction", ref id, observed_at or "")


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy, naming the table and row (or leaf, or checkpoint) concerned."""

    kind: str
    table: str
    ref: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper():<20} {self.table}:{self.ref}  {self.detail}"


@dataclass
class VerifyReport:
    """Outcome of a verification run."""

    findings: list[Finding] = field(default_factory=list)
    leaves: int = 0
    rows: int = 0
    checkpoints: int = 0
    periods: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing but informational findings were made."""
        return all(f.kind in INFO_KINDS for f in self.findings)


def _range_sql(
    column: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= %s")
        params.append(since)
    if until is not None:
        clauses.append(f"{column} < %s")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


async def _fetch(conn: AsyncConnection[Any], query: str, params: Sequence[Any]) -> list[Any]:
    cur = await conn.execute(query.encode(), params)
    return list(await cur.fetchall())


def _check_leaves(leaves: list[Any], report: VerifyReport) -> None:
    """Recompute leaf hashes and each source's hash chain."""
    by_source: dict[str, list[Any]] = defaultdict(list)
    for leaf in leaves:
        (_, _, kind, dataset, ref, observed, source, seq, row, prev, digest, _) = leaf
        doc = leaf_doc(kind, dataset, ref, observed, source, seq, row, prev)
        if leaf_hash_hex(doc) != digest:
            report.findings.append(
                Finding("leaf_altered", "tlog_leaf", ref, f"leaf {leaf[1]} of {iso_utc(leaf[0])}")
            )
        by_source[source].append(leaf)
    for source, chain in by_source.items():
        chain.sort(key=lambda x: x[7])
        for a, b in itertools.pairwise(chain):
            if b[7] != a[7] + 1:
                report.findings.append(Finding(
                    "chain_broken", "tlog_leaf", b[4],
                    f"source {source}: chain positions {a[7]} -> {b[7]} (leaves missing)",
                ))  # fmt: skip
            elif b[9] != a[10]:
                report.findings.append(Finding(
                    "chain_broken", "tlog_leaf", b[4],
                    f"source {source}: position {b[7]} does not link to {a[7]}",
                ))  # fmt: skip


def _check_periods(
    leaves: list[Any], checkpoints: list[Any], trusted: set[str], report: VerifyReport
) -> None:
    by_period: dict[datetime, list[Any]] = defaultdict(list)
    for leaf in leaves:
        by_period[leaf[0]].append(leaf)
    cps: dict[datetime, list[Any]] = defaultdict(list)
    for cp in checkpoints:
        cps[cp[1]].append(cp)
    report.periods = len(by_period)
    for period, plist in by_period.items():
        plist.sort(key=lambda x: x[1])
        tree, expected = CompactRange(), 0
        pending = sorted(cps.get(period, []), key=lambda c: c[2])
        for leaf in plist:
            if leaf[1] != expected:
                report.findings.append(Finding(
                    "leaf_missing", "tlog_leaf", f"{iso_utc(period)}#{expected}",
                    f"leaves {expected}..{leaf[1] - 1} of the period are gone",
                ))  # fmt: skip
                expected = leaf[1]
            doc = leaf_doc(*leaf[2:10])
            tree.append(bytes.fromhex(leaf_hash_hex(doc)))
            expected += 1
            while pending and pending[0][2] == tree.size:
                cp = pending.pop(0)
                if tree.root().hex() != cp[3]:
                    report.findings.append(Finding(
                        "checkpoint_mismatch", "tlog_checkpoint", str(cp[0]),
                        f"root over {cp[2]} leaves of {iso_utc(period)} differs from the signed one",
                    ))  # fmt: skip
        signed = max((c[2] for c in cps.get(period, [])), default=0)
        if tree.size > signed:
            report.findings.append(Finding(
                "unsigned", "tlog_leaf", iso_utc(period),
                f"{tree.size - signed} leaves after the last checkpoint (size {signed})",
            ))  # fmt: skip
    prev_body: str | None = None
    prev_seq: int | None = None
    for cp in sorted(checkpoints, key=lambda c: c[0]):
        seq, period, size, root, body, signature, key_id, public_key = cp
        report.checkpoints += 1
        fields = json.loads(body)
        consistent = (
            fields.get("root") == root and fields.get("tree_size") == size
            and fields.get("period_start") == iso_utc(period)
        )  # fmt: skip
        if not consistent or not verify_signature(public_key, signature, body.encode()):
            report.findings.append(
                Finding("bad_signature", "tlog_checkpoint", str(seq), "body or signature invalid")
            )
        elif trusted and public_key not in trusted:
            report.findings.append(
                Finding("bad_signature", "tlog_checkpoint", str(seq), f"untrusted key {key_id}")
            )
        if prev_seq is not None and seq == prev_seq + 1 and prev_body is not None:
            if fields.get("prev") != hashlib.sha256(prev_body.encode()).hexdigest():
                report.findings.append(Finding(
                    "checkpoint_chain", "tlog_checkpoint", str(seq),
                    "does not link to the previous checkpoint",
                ))  # fmt: skip
        elif seq == 1 and fields.get("prev") != GENESIS:
            report.findings.append(
                Finding("checkpoint_chain", "tlog_checkpoint", "1", "first checkpoint has a prev")
            )
        prev_seq, prev_body = seq, body


async def _row_hashes(
    conn: AsyncConnection[Any],
    *,
    catalog: Catalog,
    since: datetime | None,
    until: datetime | None,
    trusted: set[str],
    report: VerifyReport,
) -> dict[Key, str | tuple[str, ...]]:
    rows: dict[Key, str | tuple[str, ...]] = {}
    where, params = _range_sql("ingested_at", since, until)
    cols = ", ".join(PROVENANCE_COLUMNS)
    for values in await _fetch(conn, f"SELECT {cols} FROM provenance{where}", params):  # noqa: S608
        rows[("provenance", values[0], "")] = provenance_row_sha256(values)
    for entry in catalog.entries.values():
        columns = data_columns(entry)
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.Identifier(entry.storage_table),
        )
        try:
            async with conn.transaction():
                cur = await conn.execute(query + sql.SQL(where), params)
                fetched = await cur.fetchall()
        except psycopg.errors.UndefinedTable:
            continue
        hashes = await _personal_hashes(conn, entry, fetched, report)
        for values in fetched:
            key = (entry.code, values[3], iso_utc(values[0]))
            rows[key] = hashes.get(key) or data_row_sha256(entry, values)
    where, params = _range_sql("created_at", since, until)
    cols = ", ".join(CORRECTION_COLUMNS)
    text = (
        f"SELECT {cols}, pi_commitment, pi_key_id, body, signature, key_id FROM correction{where}"  # noqa: S608
    )
    fetched = await _fetch(conn, text, params)
    live = await keys_by_id(conn, {str(v[-4]) for v in fetched if v[-4]})
    for values in fetched:
        logged = _logged_correction(catalog, values, live, report)
        body = canonical_bytes(record_doc("correction", CORRECTION_COLUMNS, logged))
        rows[("correction", values[0], "")] = sha256_hex(body)
        if body.decode() != values[-3] or not any(
            verify_signature(k, values[-2], body) for k in trusted
        ):
            report.findings.append(Finding(
                "bad_signature", "correction", values[0], "correction body or signature invalid",
            ))  # fmt: skip
    return rows


def _logged_correction(
    catalog: Catalog, values: Sequence[Any], live: dict[str, KeyRow], report: VerifyReport
) -> list[Any]:
    """A correction's columns as its body logged them: personal values as their commitment.

    While the subject key lives, the plain values must match the commitment; after an erasure
    they are gone and the stored commitment alone stands for them.
    """
    row = list(values[: len(CORRECTION_COLUMNS)])
    commit, kid = values[-5], values[-4]
    if commit is None:
        return row
    entry = catalog.get(row[1])
    names = erasable_columns(entry) if entry is not None else ()
    plain = dict(row[5] or {})
    key = live.get(str(kid))
    if key is not None and commitment(key.key, row[0], plain, names) != commit:
        report.findings.append(Finding(
            "altered", "correction", row[0], "personal values differ from their commitment",
        ))  # fmt: skip
    row[5] = committed_doc(plain, names, str(commit))
    return row


async def _personal_hashes(
    conn: AsyncConnection[Any], entry: DatasetEntry, fetched: list[Any], report: VerifyReport
) -> dict[Key, tuple[str, ...]]:
    """Row hashes of a personal dataset's rows: plain, and committed through the subject key.

    An erased row has only its stored commitment; a live row may have been logged before its
    subject had a key (plain) or after (committed), so both are acceptable hashes of it.
    """
    if not subject_item(entry):
        return {}
    keys = await live_subject_keys(conn)
    # An erasure must be backed by its signed event: pi_erased alone (a role that can insert
    # there and null columns) would otherwise pass for a lawful erasure.
    cur = await conn.execute(
        "SELECT p.record_id, p.observed_at, p.commitment, c.action FROM pi_erased AS p "
        "LEFT JOIN correction AS c ON c.correction_id = p.correction_id "
        "AND c.dataset = p.dataset AND c.record_id = p.record_id WHERE p.dataset = %s",
        (entry.code,),
    )
    erased: dict[tuple[str, str], str] = {}
    for record_id, observed_at, commit, action in await cur.fetchall():
        erased[(record_id, iso_utc(observed_at))] = str(commit)
        if action != "erase":
            report.findings.append(Finding(
                "altered", entry.storage_table, record_id,
                "personal columns erased without a signed erasure event",
            ))  # fmt: skip
    out: dict[Key, tuple[str, ...]] = {}
    for values in fetched:
        at = iso_utc(values[0])
        commit = erased.get((values[3], at))
        if commit is not None:
            out[(entry.code, values[3], at)] = (data_row_sha256(entry, values, commit=commit),)
            continue
        subject = subject_of(entry, data_row_doc(entry, values))
        key = keys.get((entry.code, subject_ref(entry.code, subject))) if subject else None
        plain = data_row_sha256(entry, values)
        out[(entry.code, values[3], at)] = (
            (plain, data_row_sha256(entry, values, key=key)) if key else (plain,)
        )
    return out


async def verify_store(
    conn: AsyncConnection[Any],
    catalog: Catalog,
    trusted_keys: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime,
    period_s: int = 86400,
) -> VerifyReport:
    """Verify the log and the rows logged in ``[since, until)`` (everything by default)."""
    started = time.perf_counter()
    report = VerifyReport()
    trusted = set(trusted_keys)
    where, params = _range_sql("period_start", None, until)
    if since is not None:  # whole periods are needed to recompute their roots
        where += (" AND " if where else " WHERE ") + "period_start >= %s"
        params.append(period_start(since, period_s))
    query = f"SELECT {', '.join(LEAF_COLUMNS)} FROM tlog_leaf{where}"  # noqa: S608 - fixed names
    leaves = await _fetch(conn, query, params)
    checkpoints = await _fetch(
        conn,
        "SELECT checkpoint_seq, period_start, tree_size, root, body, signature, key_id, "
        "public_key FROM tlog_checkpoint ORDER BY checkpoint_seq",
        [],
    )
    report.leaves = len(leaves)
    _check_leaves(leaves, report)
    _check_periods(leaves, checkpoints, trusted, report)
    rows = await _row_hashes(
        conn, catalog=catalog, since=since, until=until, trusted=trusted, report=report
    )
    report.rows = len(rows)
    in_range = [
        leaf for leaf in leaves
        if (since is None or leaf[11] >= since) and (until is None or leaf[11] < until)
    ]  # fmt: skip
    logged: dict[Key, Any] = {}
    for leaf in in_range:
        kind, dataset, ref, observed = leaf[2], leaf[3], leaf[4], leaf[5]
        key: Key = (dataset, ref, iso_utc(observed)) if kind == "record" else (kind, ref, "")
        logged[key] = leaf
    gone: dict[tuple[str, str], Key] = {}
    for key, leaf in logged.items():
        have = rows.get(key)
        if have is None:
            entry = catalog.get(key[0])
            if entry and leaf[5] is not None and leaf[5] < now - timedelta(entry.retention_days):
                report.findings.append(Finding("expired", key[0], key[1], "past retention"))
            else:
                gone[(key[0], key[1])] = key
        elif leaf[8] not in (have if isinstance(have, tuple) else (have,)):
            report.findings.append(Finding(
                "altered", _table(catalog, key[0]), key[1],
                f"row hash differs from leaf {leaf[1]} of {iso_utc(leaf[0])}",
            ))  # fmt: skip
    for key in rows.keys() - logged.keys():
        if (key[0], key[1]) in gone:  # same record, moved in time: an edit of observed_at
            gone.pop((key[0], key[1]))
            report.findings.append(Finding(
                "altered", _table(catalog, key[0]), key[1], "observed_at changed",
            ))  # fmt: skip
        else:
            report.findings.append(Finding(
                "inserted", _table(catalog, key[0]), key[1], "row has no leaf in the log",
            ))  # fmt: skip
    for key in gone.values():
        report.findings.append(Finding(
            "deleted", _table(catalog, key[0]), key[1], "logged row is missing",
        ))  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def _table(catalog: Catalog, name: str) -> str:
    entry = catalog.get(name)
    return entry.storage_table if entry else name
