"""Signed checkpoints: the tree head of each log period, chained and signed with Ed25519.

A checkpoint body is the canonical JSON of ``{v, origin, period_start, tree_size, root, timestamp,
prev, alg, key_id}`` where ``prev`` is the SHA-256 of the previous checkpoint's body (all periods
share one chain) and ``root`` the RFC 6962 tree hash of the period's first ``tree_size`` leaves.
Writers take a transaction-scoped advisory lock, so the chain stays linear with several sinks.
The stored frontier (compact range peaks) only saves work for the next checkpoint; verifiers
recompute roots from the leaves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from processors.provenance.canonical import canonical_bytes, iso_utc
from processors.provenance.keys import Signer
from processors.provenance.merkle import CompactRange

__all__ = ["Checkpoint", "checkpoint_body", "write_checkpoints"]

_LOCK_KEY = 0x5E45_6A7E_0002
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed tree head."""

    seq: int
    period_start: datetime
    tree_size: int
    root: str
    body: str
    signature: str
    key_id: str
    public_key: str


def checkpoint_body(
    *,
    origin: str,
    period: datetime,
    tree_size: int,
    root: str,
    timestamp: datetime,
    prev: str,
    key_id: str,
) -> str:
    """Canonical checkpoint body (the signed bytes, as text)."""
    doc: dict[str, Any] = {
        "v": 1,
        "origin": origin,
        "period_start": iso_utc(period),
        "tree_size": tree_size,
        "root": root,
        "timestamp": iso_utc(timestamp),
        "prev": prev,
        "alg": "Ed25519",
        "key_id": key_id,
    }
    return canonical_bytes(doc).decode()


async def write_checkpoints(
    conn: AsyncConnection[Any], signer: Signer, origin: str
) -> list[Checkpoint]:
    """Checkpoint every period that grew since its last checkpoint; returns the new ones."""
    made: list[Checkpoint] = []
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        await cur.execute(
            "SELECT checkpoint_seq, body FROM tlog_checkpoint ORDER BY checkpoint_seq DESC LIMIT 1"
        )
        last = await cur.fetchone()
        seq = int(last[0]) if last else 0
        prev = hashlib.sha256(str(last[1]).encode()).hexdigest() if last else GENESIS
        await cur.execute(
            "SELECT h.period_start, h.size, c.tree_size, c.frontier FROM tlog_head AS h "
            "LEFT JOIN LATERAL (SELECT tree_size, frontier FROM tlog_checkpoint AS k "
            "WHERE k.period_start = h.period_start ORDER BY tree_size DESC LIMIT 1) AS c ON true "
            "WHERE h.size > coalesce(c.tree_size, 0) ORDER BY h.period_start"
        )
        pending = await cur.fetchall()
        for period, size, done_size, frontier in pending:
            done = int(done_size or 0)
            peaks = [bytes.fromhex(h) for h in (frontier or [])]
            tree = CompactRange(done, peaks)
            await cur.execute(
                "SELECT leaf_hash FROM tlog_leaf WHERE period_start = %s "
                "AND leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
                (period, done, size),
            )
            for (digest,) in await cur.fetchall():
                tree.append(bytes.fromhex(digest))
            root = tree.root().hex()
            body = checkpoint_body(
                origin=origin, period=period, tree_size=int(size), root=root,
                timestamp=datetime.now(UTC), prev=prev, key_id=signer.key_id,
            )  # fmt: skip
            signature = signer.sign(body.encode())
            seq += 1
            await cur.execute(
                "INSERT INTO tlog_checkpoint (checkpoint_seq, period_start, tree_size, root, body, "
                "signature, key_id, public_key, frontier) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (seq, period, int(size), root, body, signature, signer.key_id,
                 signer.public_key, [p.hex() for p in tree.peaks]),
            )  # fmt: skip
            made.append(
                Checkpoint(seq, period, int(size), root, body, signature, signer.key_id,
                           signer.public_key)
            )  # fmt: skip
            prev = hashlib.sha256(body.encode()).hexdigest()
    return made
