"""Tamper evidence: row hashes, source chains, RFC 6962 trees, signed checkpoints, proofs, corrections."""

from __future__ import annotations

from processors.provenance.checkpoint import Checkpoint, write_checkpoints
from processors.provenance.corrections import CorrectionError, supersede
from processors.provenance.keys import Signer, generate_seed
from processors.provenance.proof import ProofError, build_proof, verify_proof
from processors.provenance.verify import Finding, VerifyReport, verify_store

__all__ = [
    "Checkpoint",
    "CorrectionError",
    "Finding",
    "ProofError",
    "Signer",
    "VerifyReport",
    "build_proof",
    "generate_seed",
    "supersede",
    "verify_proof",
    "verify_store",
    "write_checkpoints",
]
