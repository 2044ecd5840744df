"""What the sharing processor publishes, decided from the catalog: targets, transforms and the release guard.

For every published catalog entry:

* share tier (``share_class`` unconditional or conditional): the dataset's records, identifiers
  re-pseudonymised with the share key of the current epoch (P1; key id in
  ``provenance.pseudonym_key_id``), so share consumers cannot link them to internal data;
* open tier (``open_class`` unconditional or conditional, ``refuse_open`` unset): ``OpenRecord``
  microdata after the entry's de-identification profile (items dropped, locations to grid-cell
  centres, times to buckets), windowed by cell and bucket with k-suppression when the profile sets
  ``k_anonymity``;
* derived aggregate entries (``derived_from`` set): counts per (grid cell, time bucket, group)
  computed from the source dataset's records and released only for >= k distinct entities, on
  the derived entry's own share/open topics.

Anything the profile forbids (identifier or personal items kept, locations not generalised, plates,
faces or images, per-vehicle rows of personal data) yields no open target, and every open value is
re-checked by ``release_problems`` before it is produced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from contracts.record import DatasetRecord, RecordValue, record_id_for
from contracts.topics import open_topic, share_topic
from processors.catalog import Catalog, DatasetEntry
from processors.catalog.policy import CLASS_ORDER
from processors.share.deidentify import GridCell, RotatingKeyring, grid_cell, time_bucket
from processors.share.fences import position_of

__all__ = [
    "FORBIDDEN_OPEN_NAMES",
    "CellInfo",
    "OpenRecord",
    "Target",
    "aggregate_natural_key",
    "aggregate_values",
    "counted_party",
    "open_microdata",
    "open_refusal",
    "plan_targets",
    "release_problems",
    "rule_set_digest",
    "share_record",
    "withheld_items",
]

Tier = Literal["share", "open"]
Mode = Literal["record", "microdata", "aggregate"]

# Item name fragments that are never opened, whatever a profile says (docs/governance.md §3, P8).
FORBIDDEN_OPEN_NAMES = ("plate", "face", "image", "video", "photo", "vin")
_PERSONAL = frozenset({"identifier", "personal"})
SHARE_EPOCH_DAYS = 30


@dataclass(frozen=True, slots=True)
class Target:
    """One output stream: which entry's class allows it, what it reads and how it is built."""

    tier: Tier
    entry: DatasetEntry
    source: str
    topic: str
    mode: Mode

    @property
    def name(self) -> str:
        """Unique label, e.g. ``open:agri_soil``."""
        return f"{self.tier}:{self.entry.code}"


class CellInfo(BaseModel):
    """The generalised position of an open record: a grid cell and its centre."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    size_m: int
    lat: float
    lon: float


class OpenRecord(BaseModel):
    """One de-identified record on ``<prefix>open.<code>`` (or an aggregate on share/open topics)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    dataset: str
    source_dataset: str
    catalog_version: int
    rule_set: str
    rule_version: int
    kind: Literal["microdata", "aggregate"]
    period_start: datetime
    period_s: int
    cell: CellInfo | None = None
    values: dict[str, RecordValue]
    # Set only on a superseding record: the signed correction event that replaced the earlier
    # version of this record id (a compacting consumer keeps the latest); omitted when unset.
    supersedes: str | None = None

    def to_kafka_value(self) -> bytes:
        """JSON value as produced."""
        if self.supersedes is None:
            return self.model_dump_json(exclude={"supersedes"}).encode()
        return self.model_dump_json().encode()


def rule_set_digest(entry: DatasetEntry) -> str:
    """Rule-set id stated on open records: entry code plus a digest of its de-identification profile."""
    doc = entry.deidentification.model_dump(mode="json")
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return f"{entry.code}.deid.{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def open_refusal(entry: DatasetEntry, source: DatasetEntry | None = None) -> str | None:
    """Why ``entry`` may not be opened (None when it may); checked again here, not only in the catalog."""
    profile = entry.deidentification
    if entry.open_class == "none" or profile.refuse_open:
        return profile.reason or "open_class is 'none'"
    names = [i.name for i in entry.items] + ([i.name for i in source.items] if source else [])
    bad = sorted({n for n in names for f in FORBIDDEN_OPEN_NAMES if f in n})
    if bad and source is None:
        return f"items {bad} (plates, faces, images, vehicle ids) are never opened"
    if source is not None:
        if profile.k_anonymity is None or not profile.location_cell_m or not profile.time_bucket_s:
            return (
                "an aggregate over personal data needs k_anonymity, location_cell_m, time_bucket_s"
            )
        return None
    if "personal" in entry.data_category or entry.sensitive_pi:
        return "per-entity rows of personal data are never opened; publish a derived aggregate"
    for item in entry.items:
        rule = profile.rule_for(item.name)
        action = rule.action if rule else "keep"
        if item.sensitivity in _PERSONAL and action != "drop":
            return f"identifier item {item.name!r} is not dropped"
        if item.sensitivity == "location" and action not in ("drop", "grid"):
            return f"location item {item.name!r} is not generalised"
    return None


def plan_targets(catalog: Catalog, prefix: str) -> tuple[list[Target], dict[str, str]]:
    """Every output stream the catalog allows, plus the refused open streams with their reason."""
    targets: list[Target] = []
    refused: dict[str, str] = {}
    for entry in catalog:
        if entry.status != "published":
            continue
        source = catalog.get(entry.derived_from) if entry.derived_from else None
        if entry.derived_from and source is None:
            refused[entry.code] = f"source {entry.derived_from!r} is not catalogued"
            continue
        src_code = source.code if source else entry.code
        if entry.share_class != "none":
            mode: Mode = "aggregate" if source else "record"
            targets.append(Target("share", entry, src_code, share_topic(prefix, entry.code), mode))
        reason = open_refusal(entry, source)
        if reason is None:
            mode = "aggregate" if source else "microdata"
            targets.append(Target("open", entry, src_code, open_topic(prefix, entry.code), mode))
        elif entry.open_class != "none":
            refused[entry.code] = reason
    return targets, refused


def share_record(
    record: DatasetRecord, entry: DatasetEntry, keyring: RotatingKeyring
) -> DatasetRecord:
    """The share-tier form of a record: identifiers re-keyed with the share key of the epoch (P1)."""
    identifiers = [i.name for i in entry.items if i.sensitivity in _PERSONAL]
    withheld = withheld_items(entry, "share")
    if withheld:
        kept = {k: v for k, v in record.values.items() if k not in withheld}
        record = record.model_copy(update={"values": kept})
    if not identifiers:
        return record
    values = dict(record.values)
    key_id: str | None = None
    for name in identifiers:
        rule = entry.deidentification.rule_for(name)
        days = (
            min(rule.key_epoch_days or SHARE_EPOCH_DAYS, SHARE_EPOCH_DAYS)
            if rule
            else SHARE_EPOCH_DAYS
        )
        if values.get(name) is not None:
            values[name], key_id = keyring.pseudonym(
                values[name],
                tier="share",
                dataset=entry.code,
                item=name,
                moment=record.observed_at,
                epoch_days=days,
            )
    entity, key_id = keyring.pseudonym(
        record.entity_id,
        tier="share",
        dataset=entry.code,
        item="entity_id",
        moment=record.observed_at,
        epoch_days=SHARE_EPOCH_DAYS,
    )
    natural, _ = keyring.pseudonym(
        record.natural_key,
        tier="share",
        dataset=entry.code,
        item="natural_key",
        moment=record.observed_at,
        epoch_days=SHARE_EPOCH_DAYS,
    )
    provenance = record.provenance.model_copy(update={"pseudonym_key_id": key_id})
    return record.model_copy(
        update={
            "values": values,
            "entity_id": entity,
            "natural_key": natural,
            "provenance": provenance,
        }
    )


def withheld_items(entry: DatasetEntry, tier: Literal["share", "open"]) -> frozenset[str]:
    """C11: items whose own override restricts more than the entry's class for ``tier``.

    The tier's topic carries what its class allows; an item marked stricter needs a separate
    grant or application, so it never rides along on the entry's topic.
    """
    base = entry.share_class if tier == "share" else entry.open_class
    return frozenset(
        i.name
        for i in entry.items
        if (override := i.share_class if tier == "share" else i.open_class) is not None
        and CLASS_ORDER[override] > CLASS_ORDER[base]
    )


def cell_of(record: DatasetRecord, entry: DatasetEntry) -> GridCell | None:
    """The grid cell the profile generalises this record's position to (None: position dropped)."""
    profile = entry.deidentification
    size = profile.location_cell_m
    for item in entry.items:
        rule = profile.rule_for(item.name)
        if item.sensitivity == "location" and rule is not None and rule.action == "grid":
            size = max(size or 0, rule.cell_size_m or 0) or None
    where = position_of(record)
    if size is None or where is None:
        return None
    return grid_cell(where[0], where[1], size)


def open_microdata(
    record: DatasetRecord, entry: DatasetEntry, keyring: RotatingKeyring
) -> OpenRecord:
    """The open-tier form of one record after the entry's profile (P1-P4; never an identifier)."""
    profile = entry.deidentification
    bucket_s = profile.time_bucket_s or 1
    cell = cell_of(record, entry)
    values: dict[str, RecordValue] = {}
    withheld = withheld_items(entry, "open")
    for item in entry.items:
        value = record.values.get(item.name)
        if item.name in withheld:
            continue
        rule = profile.rule_for(item.name)
        action = rule.action if rule else ("drop" if item.sensitivity != "none" else "keep")
        if value is None or action == "drop":
            continue
        if action == "grid" or item.sensitivity == "location":
            if cell is not None and item.name in ("lat", "lon"):
                values[item.name] = cell.lat if item.name == "lat" else cell.lon
            continue
        if action == "time_bucket" and isinstance(value, int | float) and rule and rule.bucket_s:
            value = float(value // rule.bucket_s * rule.bucket_s)
        elif action == "hmac":
            value, _ = keyring.pseudonym(
                value,
                tier="open",
                dataset=entry.code,
                item=item.name,
                moment=record.observed_at,
                epoch_days=(rule.key_epoch_days if rule else None) or 1,
            )
        values[item.name] = value
    digest = hashlib.sha256(f"open|{entry.code}|{entry.version}|{record.record_id}".encode())
    return OpenRecord(
        record_id=digest.hexdigest(),
        dataset=entry.code,
        source_dataset=record.dataset,
        catalog_version=entry.version,
        rule_set=rule_set_digest(entry),
        rule_version=entry.version,
        kind="microdata",
        period_start=time_bucket(record.observed_at, bucket_s),
        period_s=bucket_s,
        cell=CellInfo(id=cell.cell_id, size_m=cell.size_m, lat=cell.lat, lon=cell.lon)
        if cell
        else None,
        values=values,
    )


def group_items(entry: DatasetEntry, source: DatasetEntry) -> tuple[str, ...]:
    """Items a derived aggregate groups by: text items of both entries carrying no sensitivity."""
    mine = {i.name for i in entry.items}
    return tuple(
        i.name
        for i in source.items
        if i.name in mine and i.type == "text" and i.sensitivity == "none"
    )


def counted_party(record: DatasetRecord, source: DatasetEntry | None) -> str:
    """Who k counts for one row of an aggregate: the person or vehicle, not the sending device.

    A participant row's entity is its RSU (one RSU reports many participants), so k would count
    RSUs; the source's identifier item (e.g. the pseudonymised ``ptc_id``) names the participant.
    Rows without an identifier item count by entity.
    """
    for item in source.items if source else ():
        if item.sensitivity == "identifier" and record.values.get(item.name) is not None:
            return f"{item.name}:{record.values[item.name]}"
    return record.entity_id


def aggregate_values(
    entry: DatasetEntry,
    group: tuple[tuple[str, Any], ...],
    rows: tuple[DatasetRecord, ...],
    entities: int,
) -> dict[str, RecordValue]:
    """Values of one released aggregate: group-by values, counts, and means of ``mean_<item>`` items."""
    values: dict[str, RecordValue] = dict(group)
    values["records"] = len(rows)
    values["entities"] = entities
    for item in entry.items:
        if item.name.startswith("mean_"):
            base = item.name.removeprefix("mean_")
            nums = [float(v) for r in rows if isinstance(v := r.values.get(base), int | float)]
            values[item.name] = round(sum(nums) / len(nums), 3) if nums else None
    return values


def aggregate_natural_key(cell_id: str, bucket: datetime, group: tuple[tuple[str, Any], ...]) -> str:
    """Natural key of one aggregate: cell, bucket start and group values."""
    return f"{cell_id}|{bucket.isoformat()}|{json.dumps(group, default=str)}"


def aggregate_record(
    target: Target,
    cell: GridCell,
    bucket: datetime,
    group: tuple[tuple[str, Any], ...],
    values: dict[str, RecordValue],
) -> OpenRecord:
    """An aggregate row with a deterministic id (same cell, bucket and group give the same id)."""
    entry = target.entry
    natural = aggregate_natural_key(cell.cell_id, bucket, group)
    return OpenRecord(
        record_id=record_id_for(entry.code, natural),
        dataset=entry.code,
        source_dataset=target.source,
        catalog_version=entry.version,
        rule_set=rule_set_digest(entry),
        rule_version=entry.version,
        kind="aggregate",
        period_start=bucket,
        period_s=entry.deidentification.time_bucket_s or 1,
        cell=CellInfo(id=cell.cell_id, size_m=cell.size_m, lat=cell.lat, lon=cell.lon),
        values=values,
    )


def release_problems(record: OpenRecord, entry: DatasetEntry, k: int | None) -> list[str]:
    """Checks run on every open value before it is produced (C3): empty means it may be released."""
    problems: list[str] = []
    profile = entry.deidentification
    for item in entry.items:
        if item.sensitivity in _PERSONAL and item.name in record.values:
            problems.append(f"identifier item {item.name!r} present")
    bad = sorted(n for n in record.values for f in FORBIDDEN_OPEN_NAMES if f in n)
    if bad:
        problems.append(f"forbidden items {bad} present")
    declared = profile.location_cell_m
    if record.cell is not None:
        expected = grid_cell(record.cell.lat, record.cell.lon, record.cell.size_m)
        if (expected.lat, expected.lon) != (record.cell.lat, record.cell.lon):
            problems.append("position is not a grid-cell centre")
        if declared and record.cell.size_m < declared:
            problems.append(f"cell {record.cell.size_m} m finer than declared {declared} m")
    # Only positions the catalog treats as location data must be generalized to a cell centre;
    # e.g. a road event's position describes the road, not a person, and is released as it is.
    generalized = {
        item.name
        for item in entry.items
        if item.sensitivity == "location"
        or ((rule := profile.rule_for(item.name)) is not None and rule.action == "grid")
    }
    for name in ("lat", "lon"):
        value = record.values.get(name)
        if name not in generalized:
            continue
        if value is not None and (record.cell is None or value != getattr(record.cell, name)):
            problems.append(f"{name} is not the cell centre")
    if profile.time_bucket_s and record.period_s < profile.time_bucket_s:
        problems.append("time bucket finer than declared")
    entities = record.values.get("entities")
    if record.kind == "aggregate" and (not isinstance(entities, int) or entities < (k or 1)):
        problems.append(f"aggregate of {entities} entities is under k={k}")
    return problems
