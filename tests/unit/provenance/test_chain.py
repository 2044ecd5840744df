"""Per-source hash chains and period numbering, checked by the verifier's pure parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.provenance.log import CHAIN_START, leaf_doc, leaf_hash_hex, period_start
from processors.provenance.verify import VerifyReport, _check_leaves

PERIOD = datetime(2026, 11, 29, tzinfo=UTC)


def _chain(source: str, n: int, first_index: int = 0) -> list[tuple[Any, ...]]:
    prev, rows = CHAIN_START, []
    for seq in range(n):
        doc = leaf_doc("record", "agri_soil", f"{source}-{seq}", None, source, seq, "ab" * 32, prev)
        digest = leaf_hash_hex(doc)
        rows.append((PERIOD, first_index + seq, "record", "agri_soil", f"{source}-{seq}", None,
                     source, seq, "ab" * 32, prev, digest, PERIOD))  # fmt: skip
        prev = digest
    return rows


def test_intact_chains_pass() -> None:
    report = VerifyReport()
    _check_leaves(_chain("dev-a", 5) + _chain("dev-b", 3, 5), report)
    assert report.findings == []


def test_edited_leaf_is_named() -> None:
    leaves = _chain("dev-a", 4)
    edited = list(leaves[2])
    edited[8] = "cd" * 32  # someone rewrote the row hash in the leaf table
    leaves[2] = tuple(edited)
    report = VerifyReport()
    _check_leaves(leaves, report)
    assert [(f.kind, f.ref) for f in report.findings] == [("leaf_altered", "dev-a-2")]


def test_removed_leaf_breaks_the_chain() -> None:
    leaves = _chain("dev-a", 5)
    del leaves[3]
    report = VerifyReport()
    _check_leaves(leaves, report)
    assert [(f.kind, f.ref) for f in report.findings] == [("chain_broken", "dev-a-4")]


def test_relinked_chain_is_detected() -> None:
    leaves = _chain("dev-a", 3)
    forged = list(leaves[2])
    forged[9] = CHAIN_START  # the attacker points the link elsewhere and rehashes the leaf
    forged[10] = leaf_hash_hex(leaf_doc(*forged[2:10]))
    leaves[2] = tuple(forged)
    report = VerifyReport()
    _check_leaves(leaves, report)
    assert [f.kind for f in report.findings] == ["chain_broken"]


def test_periods_align_to_the_epoch() -> None:
    ts = datetime(2026, 11, 29, 13, 45, 7, tzinfo=UTC)
    assert period_start(ts, 86400) == PERIOD
    assert period_start(ts, 3600) == datetime(2026, 11, 29, 13, tzinfo=UTC)
