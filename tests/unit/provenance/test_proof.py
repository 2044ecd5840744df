"""Offline proof verification: a correct proof holds, every kind of forgery is refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.provenance.canonical import canonical_bytes, sha256_hex
from processors.provenance.checkpoint import GENESIS, checkpoint_body
from processors.provenance.keys import Signer, generate_seed
from processors.provenance.log import CHAIN_START, leaf_doc, leaf_hash_hex
from processors.provenance.merkle import inclusion_proof, tree_root
from processors.provenance.proof import PROOF_FORMAT, verify_proof

PERIOD = datetime(2026, 11, 29, tzinfo=UTC)


def _proof(signer: Signer, index: int = 3, size: int = 6) -> dict[str, Any]:
    records = [{"_dataset": "agri_soil", "record_id": f"r{i}", "soil_moisture": 20.0 + i}
               for i in range(size)]  # fmt: skip
    leaves = [
        leaf_doc("record", "agri_soil", f"r{i}", None, "dev", i,
                 sha256_hex(canonical_bytes(r)), CHAIN_START)
        for i, r in enumerate(records)
    ]  # fmt: skip
    hashes = [bytes.fromhex(leaf_hash_hex(d)) for d in leaves]
    body = checkpoint_body(
        origin="test", period=PERIOD, tree_size=size, root=tree_root(hashes).hex(),
        timestamp=PERIOD, prev=GENESIS, key_id=signer.key_id,
    )  # fmt: skip
    return {
        "format": PROOF_FORMAT,
        "record": records[index],
        "leaf": leaves[index],
        "leaf_hash": hashes[index].hex(),
        "leaf_index": index,
        "period_start": "2026-11-29T00:00:00.000000Z",
        "tree_size": size,
        "audit_path": [h.hex() for h in inclusion_proof(index, hashes)],
        "checkpoint": {"body": body, "signature": signer.sign(body.encode()),
                       "key_id": signer.key_id, "public_key": signer.public_key},
    }  # fmt: skip


def test_valid_proof_holds() -> None:
    signer = Signer.from_text(generate_seed())
    assert verify_proof(_proof(signer), signer.public_key) == []


def _edit(proof: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = proof
    for p in parents:
        target = target[p]
    target[last] = value


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("record.soil_moisture", 99.0, "row hash"),
        ("leaf.source", "other", "leaf hash"),
        ("leaf_index", 2, "signed root"),
        ("tree_size", 5, "another tree"),
        ("audit_path", [], "audit path"),
        ("checkpoint.signature", "AAAA", "signature"),
    ],
)
def test_forgeries_are_refused(path: str, value: Any, problem: str) -> None:
    signer = Signer.from_text(generate_seed())
    proof = copy.deepcopy(_proof(signer))
    _edit(proof, path, value)
    problems = verify_proof(proof, signer.public_key)
    assert any(problem in p for p in problems), problems


def test_proof_signed_by_another_key_is_refused() -> None:
    signer, other = Signer.from_text(generate_seed()), Signer.from_text(generate_seed())
    problems = verify_proof(_proof(signer), other.public_key)
    assert problems == ["checkpoint signed by a key other than the trusted one"]
