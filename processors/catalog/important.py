"""F34 important-data register (DSL Art. 21, 27, 30): entries graded important or core, and sensitive areas.

Each row names the entry, its grade and basis, the assessment that governs any release, the holder,
and the security measures this deployment enforces for it (derived from the catalog fields the
services act on, plus any ``security_measures`` the entry states).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from processors.catalog.loader import Catalog
from processors.catalog.models import DatasetEntry

__all__ = ["REGISTER_COLUMNS", "important_register", "register_csv", "register_json"]

REGISTER_COLUMNS = (
    "kind",
    "code",
    "version",
    "name",
    "grade",
    "basis",
    "assessment",
    "holder",
    "holder_name",
    "share_class",
    "open_class",
    "security_measures",
)


def _measures(entry: DatasetEntry) -> list[str]:
    out = list(entry.security_measures)
    if entry.share_class == "conditional":
        out.append("share only under a grant per unit and purpose, every read logged (C12)")
    elif entry.share_class == "none":
        out.append("never shared; only resource-list metadata leaves (C12)")
    hmac = [r.item for r in entry.deidentification.rules if r.action == "hmac"]
    identifiers = [i.name for i in entry.items if i.sensitivity in ("identifier", "personal")]
    if identifiers:
        out.append(f"identifiers {identifiers} re-keyed per tier with rotating HMAC keys (P1)")
    if hmac:
        out.append(f"items {hmac} pseudonymised in the open tier")
    if entry.open_class == "none":
        out.append("not opened (open_class none, release guard refuses)")
    else:
        out.append("opened only after de-identification checked on every release (C3)")
    out.append(f"kept {entry.retention_days} days; older partitions dropped (storage.partitions)")
    out.append("per-record provenance in the tamper-evident log (§4-§5)")
    out.append("records inside registered sensitive areas withheld from share/open outputs (C15)")
    return out


def _assessment(entry: DatasetEntry) -> str:
    parts = []
    if entry.open_assessment:
        parts.append(f"open assessment: {entry.open_assessment}")
    evaluation = entry.grade_evaluation
    if evaluation is not None:
        parts.append(
            f"grade evaluation {evaluation.evaluated_at} by {evaluation.evaluator}: "
            f"{evaluation.method} -> {evaluation.result} ({evaluation.grade})"
        )
    return "; ".join(parts) or "none registered (not opened)"


def important_register(catalog: Catalog) -> list[dict[str, Any]]:
    """Rows of the register: important/core entries (by code), then sensitive areas (by id)."""
    rows: list[dict[str, Any]] = []
    for entry in catalog:
        if entry.grade not in ("important", "core"):
            continue
        rows.append(
            {
                "kind": "dataset",
                "code": entry.code,
                "version": entry.version,
                "name": entry.name,
                "grade": entry.grade,
                "basis": entry.grade_basis or "",
                "assessment": _assessment(entry),
                "holder": entry.provider,
                "holder_name": entry.provider_name,
                "share_class": entry.share_class,
                "open_class": entry.open_class,
                "security_measures": _measures(entry),
            }
        )
    for area in sorted(catalog.geofences, key=lambda a: a.id):
        rows.append(
            {
                "kind": "sensitive_area",
                "code": area.id,
                "version": area.source_sha256[:12],
                "name": area.name,
                "grade": area.grade,
                "basis": area.basis,
                "assessment": "designated sensitive area (C15)",
                "holder": area.holder,
                "holder_name": area.holder,
                "share_class": "none",
                "open_class": "none",
                "security_measures": [
                    "polygons never published; records inside withheld from share/open outputs"
                ],
            }
        )
    return rows


def register_json(catalog: Catalog) -> str:
    """The register as a JSON document."""
    doc = {"register": "important data (重要数据目录)", "rows": important_register(catalog)}
    return json.dumps(doc, ensure_ascii=False, indent=2)


def register_csv(catalog: Catalog) -> str:
    """The register as CSV (measures joined by ' | ')."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REGISTER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in important_register(catalog):
        writer.writerow(row | {"security_measures": " | ".join(row["security_measures"])})
    return buffer.getvalue()
