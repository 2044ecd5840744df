"""The provincial side: merge instances' registrations, refuse second sources, witness checkpoints.

Registrations arrive on ``<code>.<prefix>catalog.registrations`` and checkpoints on
``<code>.<prefix>checkpoints``, one pair of topics per admitted instance (MirrorMaker 2 names them
after the instance). The merge keeps the newest registration per (instance, dataset). The one
source rule (Art. 28) is applied per semantic key (item concept, region): the earliest registration
of a key is authoritative; a later collecting entry of another instance for the same key is a
conflict, listed for resolution and left out of the merged lists. Checkpoints are verified against
the public key pinned when the instance was admitted, never against the key a record carries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.provenance.keys import verify_signature

__all__ = [
    "CheckpointVerdict",
    "Conflict",
    "MergedCatalog",
    "Registration",
    "merge_registrations",
    "verify_checkpoints",
]

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Registration:
    """One registration as received: its document and when the province's log appended it."""

    doc: Mapping[str, Any]
    timestamp_ms: int

    @property
    def key(self) -> tuple[str, str]:
        """(instance, dataset)."""
        return str(self.doc["instance"]), str(self.doc["dataset"])


@dataclass(frozen=True, slots=True)
class Conflict:
    """A second authoritative source for one semantic key."""

    concept: str
    region: str
    authoritative: tuple[str, str, str]  # instance, dataset, provider
    refused: tuple[str, str, str]

    def describe(self) -> str:
        """One line for the conflict list."""
        a, r = self.authoritative, self.refused
        return (
            f"{self.concept} @ {self.region}: {r[0]}/{r[1]} ({r[2]}) refused, "
            f"{a[0]}/{a[1]} ({a[2]}) is the source"
        )


@dataclass
class MergedCatalog:
    """The provincial catalog: entries by (instance, dataset) and the conflicts found."""

    entries: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def refused(self) -> set[tuple[str, str]]:
        """Entries left out of the lists until their conflict is resolved."""
        return {(c.refused[0], c.refused[1]) for c in self.conflicts}

    def listed(self, kind: str) -> list[Mapping[str, Any]]:
        """The merged resource, share or open list (published, conflict-free entries)."""
        out = []
        for key, doc in sorted(self.entries.items()):
            if key in self.refused or doc.get("status") == "retired":
                continue
            if kind == "share" and doc.get("share_class") == "none":
                continue
            if kind == "open" and doc.get("open_class") == "none":
                continue
            out.append(doc)
        return out

    def as_json(self) -> dict[str, Any]:
        """JSON-ready provincial catalog with lists and conflicts."""
        return {
            "entries": [dict(d) for _k, d in sorted(self.entries.items())],
            "lists": {
                k: [f"{d['instance']}/{d['dataset']}" for d in self.listed(k)] for k in LISTS
            },
            "conflicts": [c.describe() for c in self.conflicts],
        }


LISTS = ("resource", "share", "open")


def merge_registrations(registrations: Iterable[Registration]) -> MergedCatalog:
    """Newest registration per (instance, dataset); one source per (concept, region)."""
    latest: dict[tuple[str, str], Registration] = {}
    first_seen: dict[tuple[str, str], int] = {}
    for reg in registrations:
        first_seen[reg.key] = min(first_seen.get(reg.key, reg.timestamp_ms), reg.timestamp_ms)
        if reg.key not in latest or reg.timestamp_ms >= latest[reg.key].timestamp_ms:
            latest[reg.key] = reg
    merged = MergedCatalog(entries={k: r.doc for k, r in latest.items()})
    owners: dict[tuple[str, str], tuple[str, str, str]] = {}
    # Earliest first registration wins; ties broken by name so the result does not depend on order.
    for key in sorted(latest, key=lambda k: (first_seen[k], k)):
        doc = latest[key].doc
        if doc.get("derived") or doc.get("status") == "retired":
            continue  # a derived entry re-publishes its inputs; it is not a second source
        who = (key[0], key[1], str(doc.get("provider", "")))
        region = str(doc.get("region", key[0]))
        clashes = set()
        for item in doc.get("items", ()):
            concept = str(item["concept"])
            owner = owners.setdefault((concept, region), who)
            if owner[0] != key[0] and concept not in clashes:
                clashes.add(concept)
                merged.conflicts.append(Conflict(concept, region, owner, who))
    return merged


@dataclass(frozen=True, slots=True)
class CheckpointVerdict:
    """Result of checking one instance's checkpoint stream."""

    accepted: list[dict[str, Any]]
    rejected: list[tuple[dict[str, Any], str]]


def _same_instant(a: Any, b: Any) -> bool:
    # Exports write ``isoformat()`` (+00:00), signed bodies the canonical ``Z`` form.
    try:
        return datetime.fromisoformat(str(a)) == datetime.fromisoformat(str(b))
    except ValueError:
        return False


def _problem(record: Mapping[str, Any], public_key: str, prev: str | None) -> str | None:
    body = record.get("body")
    if not isinstance(body, str):
        return "no body"
    if not verify_signature(public_key, str(record.get("signature", "")), body.encode()):
        return "signature does not verify against the instance's pinned key"
    try:
        signed = json.loads(body)
    except ValueError:
        return "body is not JSON"
    for name in ("tree_size", "root"):
        if name in record and signed.get(name) != record[name]:
            return f"{name} differs from the signed body"
    if "period_start" in record and not _same_instant(
        record["period_start"], signed.get("period_start")
    ):
        return "period_start differs from the signed body"
    if prev is not None and signed.get("prev") != prev:
        return "does not chain to the previous checkpoint the witness holds"
    return None


def verify_checkpoints(
    records: Sequence[Mapping[str, Any]], public_key: str, last_body: str | None = None
) -> CheckpointVerdict:
    """Verify signatures, signed fields and the hash chain, in log order, from the last witnessed."""
    prev = hashlib.sha256(last_body.encode()).hexdigest() if last_body is not None else None
    accepted: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any], str]] = []
    seen: set[str] = set()
    for record in records:
        body = str(record.get("body", ""))
        if body in seen:
            continue  # a replicated duplicate (at-least-once) is the same checkpoint
        problem = _problem(record, public_key, prev)
        if problem is None:
            accepted.append(dict(record))
            seen.add(body)
            prev = hashlib.sha256(body.encode()).hexdigest()
        else:
            rejected.append((dict(record), problem))
    return CheckpointVerdict(accepted, rejected)
