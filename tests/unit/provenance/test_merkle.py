"""RFC 6962 hashing against the published test vectors, plus proofs over small trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.provenance.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(x) for x in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
HASHES = [leaf_hash(x) for x in LEAVES]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_rfc_vectors(size: int) -> None:
    assert tree_root(HASHES[:size]).hex() == ROOTS[size]
    compact = CompactRange()
    for h in HASHES[:size]:
        compact.append(h)
    assert compact.root().hex() == ROOTS[size]


def test_prefixes_are_the_rfc_ones() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


def test_inclusion_proof_vector() -> None:
    assert [h.hex() for h in inclusion_proof(0, HASHES)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


def test_consistency_proof_vector() -> None:
    proof = consistency_proof(4, HASHES)
    assert [h.hex() for h in proof] == [
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
    ]
    assert verify_consistency(4, 8, bytes.fromhex(ROOTS[4]), bytes.fromhex(ROOTS[8]), proof)


@pytest.mark.parametrize("size", range(1, 9))
def test_every_inclusion_and_consistency_proof_verifies(size: int) -> None:
    root = tree_root(HASHES[:size])
    for index in range(size):
        path = inclusion_proof(index, HASHES[:size])
        assert verify_inclusion(index, size, HASHES[index], path, root)
        assert not verify_inclusion(index, size, HASHES[(index + 1) % 8], path, root) or size == 1
    for old in range(1, size + 1):
        proof = consistency_proof(old, HASHES[:size])
        assert verify_consistency(old, size, tree_root(HASHES[:old]), root, proof)


def test_tampered_proofs_fail() -> None:
    root = tree_root(HASHES)
    path = inclusion_proof(5, HASHES)
    assert not verify_inclusion(5, 8, HASHES[5], path[:-1], root)
    assert not verify_inclusion(4, 8, HASHES[5], path, root)
    assert not verify_inclusion(5, 8, HASHES[5], [path[0], path[2], path[1]], root)
    proof = consistency_proof(3, HASHES)
    assert not verify_consistency(3, 8, tree_root(HASHES[:2]), root, proof)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_random_trees(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    compact = CompactRange()
    for h in hashes:
        compact.append(h)
    root = tree_root(hashes)
    assert compact.root() == root
    resumed = CompactRange(compact.size, compact.peaks)
    assert resumed.root() == root
    index = data.draw(st.integers(0, len(hashes) - 1))
    assert verify_inclusion(index, len(hashes), hashes[index], inclusion_proof(index, hashes), root)
