"""Witnessing the log: checkpoint exports, consistency proofs and the check against a witness.

An outside witness (the provincial platform, an auditor) stores every signed checkpoint it is
given: as lines of a JSON export file (``sensegate-checkpoint/1``) or from the
``<prefix>checkpoints`` Kafka topic. Later it asks the operator's store to prove that today's log
extends what it saw: for each stored checkpoint the current leaves of that period must hash to the
witnessed root at the witnessed size, and an RFC 6962 consistency proof must lead from it to the
newest checkpoint. An operator who alters a row and its leaf and re-signs the log cannot satisfy
this, because the witness still holds the old signed root.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from contracts.settings import KafkaConfig
from processors.provenance.keys import verify_signature
from processors.provenance.merkle import consistency_proof, tree_root, verify_consistency
from processors.provenance.proof import ProofError

__all__ = [
    "check_against_witness",
    "checkpoint_records",
    "consistency_document",
    "export_checkpoints",
    "publish_checkpoints",
    "read_export",
]

FORMAT = "sensegate-checkpoint/1"


async def checkpoint_records(
    conn: AsyncConnection[Any], after_seq: int = 0
) -> list[dict[str, Any]]:
    """Signed checkpoints after ``after_seq`` as self-contained export records."""
    cur = await conn.execute(
        "SELECT checkpoint_seq, period_start, tree_size, root, body, signature, key_id, public_key "
        "FROM tlog_checkpoint WHERE checkpoint_seq > %s ORDER BY checkpoint_seq",
        (after_seq,),
    )
    return [
        {
            "format": FORMAT,
            "seq": int(r[0]),
            "period_start": r[1].isoformat(),
            "tree_size": int(r[2]),
            "root": r[3],
            "body": r[4],
            "signature": r[5],
            "key_id": r[6],
            "public_key": r[7],
        }
        for r in await cur.fetchall()
    ]


def read_export(path: Path) -> list[dict[str, Any]]:
    """Checkpoint records of an export file (one JSON object per line); empty when missing."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def export_checkpoints(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records to the export file; returns how many were written."""
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records]
    with path.open("a", encoding="utf-8") as out:
        out.writelines(lines)
    return len(lines)


async def publish_checkpoints(kafka: KafkaConfig, records: list[dict[str, Any]]) -> None:
    """Produce checkpoint records to ``<prefix>checkpoints`` (key: period) and wait for the acks."""
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.client_kwargs())
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{kafka.topic_prefix}checkpoints",
                json.dumps(r, sort_keys=True).encode(),
                key=r["period_start"].encode(),
            )
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _leaves(conn: AsyncConnection[Any], period: datetime, size: int) -> list[bytes]:
    cur = await conn.execute(
        "SELECT leaf_hash FROM tlog_leaf WHERE period_start = %s AND leaf_index < %s "
        "ORDER BY leaf_index",
        (period, size),
    )
    return [bytes.fromhex(r[0]) for r in await cur.fetchall()]


async def consistency_document(
    conn: AsyncConnection[Any], period: datetime, old_size: int, new_size: int
) -> dict[str, Any]:
    """RFC 6962 consistency proof between two sizes of one period's tree, from stored leaves."""
    leaves = await _leaves(conn, period, new_size)
    if len(leaves) < new_size:
        msg = f"the period has {len(leaves)} leaves, fewer than {new_size}"
        raise ProofError(msg)
    if not 0 < old_size <= new_size:
        msg = f"old size {old_size} outside 1..{new_size}"
        raise ProofError(msg)
    proof = consistency_proof(old_size, leaves) if old_size < new_size else []
    old_root, new_root = tree_root(leaves[:old_size]), tree_root(leaves)
    return {
        "period_start": period.isoformat(), "old_size": old_size, "new_size": new_size,
        "old_root": old_root.hex(), "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
        "verified": verify_consistency(old_size, new_size, old_root, new_root, proof),
    }  # fmt: skip


async def check_against_witness(
    conn: AsyncConnection[Any], witnessed: list[dict[str, Any]], trusted_keys: list[str]
) -> list[str]:
    """Problems found when the store is checked against a witness's checkpoints (empty: none)."""
    problems: list[str] = []
    for cp in witnessed:
        label = f"witnessed checkpoint {cp['seq']} ({cp['period_start']} size {cp['tree_size']})"
        if not any(verify_signature(k, cp["signature"], cp["body"].encode()) for k in trusted_keys):
            problems.append(f"{label}: signature not by a trusted key")
            continue
        body = json.loads(cp["body"])
        if body["root"] != cp["root"] or body["tree_size"] != cp["tree_size"]:
            problems.append(f"{label}: record does not match its signed body")
            continue
        period = datetime.fromisoformat(cp["period_start"])
        cur = await conn.execute(
            "SELECT tree_size, root FROM tlog_checkpoint WHERE period_start = %s "
            "ORDER BY tree_size DESC, checkpoint_seq DESC LIMIT 1",
            (period,),
        )
        latest = await cur.fetchone()
        if latest is None or int(latest[0]) < cp["tree_size"]:
            problems.append(f"{label}: the store's log of that period is shorter (truncated)")
            continue
        leaves = await _leaves(conn, period, int(latest[0]))
        if len(leaves) < int(latest[0]) or tree_root(leaves).hex() != latest[1]:
            problems.append(f"{label}: the store's leaves do not give its own newest root")
            continue
        old_size = cp["tree_size"]
        if tree_root(leaves[:old_size]).hex() != cp["root"]:
            problems.append(f"{label}: history rewritten (root at size {old_size} differs)")
            continue
        proof = consistency_proof(old_size, leaves) if old_size < len(leaves) else []
        if not verify_consistency(
            old_size, len(leaves), bytes.fromhex(cp["root"]), bytes.fromhex(latest[1]), proof
        ):
            problems.append(f"{label}: no consistency proof to the newest checkpoint")
    return problems
