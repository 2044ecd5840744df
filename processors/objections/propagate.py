"""Corrections downstream: what a signed correction or erasure puts on Kafka.

For a correction event this builds, from the database (never from memory of what was published):

* the signed event itself on ``<prefix>corrections`` (key = record id);
* on every share and open topic that carries the dataset, the record's superseding version under
  the same Kafka key as the original, with ``supersedes`` = the correction id, or a tombstone
  (null value, headers ``sg.supersedes``/``sg.action``) when the record is withdrawn or its new
  version fails the release guard; a compacting consumer therefore keeps only the current version;
* for windowed outputs (derived aggregates, k-suppressed microdata), every window the original or
  corrected record falls into is recomputed from ``<table>_current`` and re-published under its
  deterministic id, or tombstoned when it no longer reaches k distinct entities.

Building outputs is idempotent: the same event always yields the same keys and values, so a
publication interrupted half-way is simply repeated (``correction_publication`` records success).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from contracts.record import DatasetRecord, GeoPoint, Provenance
from processors.catalog import Catalog, DatasetEntry
from processors.objections.exceptions import CaseNotFound
from processors.provenance.personal import live_sealing_key, subject_item
from processors.provenance.sealed_records import personal_items, seal_model, tier_key
from processors.share.deidentify import RotatingKeyring, time_bucket
from processors.share.rules import (
    OpenRecord,
    Target,
    aggregate_record,
    aggregate_values,
    cell_of,
    counted_party,
    group_items,
    open_microdata,
    plan_targets,
    release_problems,
    share_record,
)
from processors.storage.ddl import CORE_COLUMNS

__all__ = ["Publication", "correction_outputs", "corrections_topic", "load_correction"]

_PROV = (
    "raw_sha256", "device_id", "gateway_id", "mqtt_topic", "received_ns", "raw_topic",
    "raw_partition", "raw_offset", "codec", "codec_version", "processor_version",
    "pseudonym_key_id",
)  # fmt: skip
_EVENT = (
    "correction_id", "dataset", "record_id", "observed_at", "action", "new_values", "body",
    "signature", "key_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Publication:
    """One Kafka record to produce; ``value`` None is a tombstone."""

    topic: str
    key: bytes
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def corrections_topic(prefix: str) -> str:
    """Topic of the signed correction events, e.g. ``sensegate.corrections``."""
    return f"{prefix}corrections"


async def load_correction(conn: AsyncConnection[Any], correction_id: str) -> dict[str, Any]:
    """The stored correction event with its signed body."""
    cur = await conn.execute(
        f"SELECT {', '.join(_EVENT)} FROM correction WHERE correction_id = %s",  # noqa: S608
        (correction_id,),
    )
    row = await cur.fetchone()
    if row is None:
        msg = f"correction {correction_id}"
        raise CaseNotFound(msg)
    return dict(zip(_EVENT, row, strict=True))


async def _records(
    conn: AsyncConnection[Any], entry: DatasetEntry, where: str, params: tuple[Any, ...], *,
    current: bool,
) -> list[DatasetRecord]:  # fmt: skip
    """Stored rows of ``entry`` (original table or ``_current`` view) as dataset records."""
    core = [n for n, _ in CORE_COLUMNS]
    items = [i.name for i in entry.items]
    table = entry.storage_table + ("_current" if current else "")
    query = sql.SQL(
        "SELECT {}, {}, {} FROM {} AS t JOIN provenance AS p USING (provenance_id) WHERE {}"
    ).format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in core),
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in items),
        sql.SQL(", ").join(sql.SQL("p.{}").format(sql.Identifier(n)) for n in _PROV),
        sql.Identifier(table),
        sql.SQL(where),  # a fixed condition written in this module, parameters bound
    )
    cur = await conn.execute(query, params)
    out: list[DatasetRecord] = []
    for row in await cur.fetchall():
        c = dict(zip(core, row[: len(core)], strict=True))
        values = dict(zip(items, row[len(core) : len(core) + len(items)], strict=True))
        p = dict(zip(_PROV, row[len(core) + len(items) :], strict=True))
        out.append(
            DatasetRecord(
                record_id=c["record_id"],
                dataset=entry.code,
                catalog_version=c["catalog_version"],
                entity_id=c["entity_id"],
                natural_key=c["natural_key"],
                observed_at=c["observed_at"],
                received_at=c["received_at"],
                values={k: v for k, v in values.items() if v is not None},
                location=GeoPoint.model_validate(c["location"]) if c["location"] else None,
                quality=tuple(c["quality"] or ()),
                provenance=Provenance(
                    raw_sha256=p["raw_sha256"],
                    device_id=p["device_id"],
                    gateway_id=p["gateway_id"],
                    mqtt_topic=p["mqtt_topic"],
                    received_ns=p["received_ns"],
                    kafka_topic=p["raw_topic"],
                    kafka_partition=p["raw_partition"],
                    kafka_offset=p["raw_offset"],
                    codec=p["codec"],
                    codec_version=p["codec_version"],
                    processor_version=p["processor_version"],
                    pseudonym_key_id=p["pseudonym_key_id"],
                ),
            )
        )
    return out


def _headers(
    target: Target | None, correction_id: str, action: str
) -> tuple[tuple[str, bytes], ...]:
    base: tuple[tuple[str, bytes], ...] = (
        ("sg.supersedes", correction_id.encode()), ("sg.action", action.encode()),
    )  # fmt: skip
    if target is None:
        return base
    return (("sg.rule_set", target.entry.code.encode()), ("sg.tier", target.tier.encode()), *base)


class _Builder:
    """Collects the publications of one correction event."""

    def __init__(
        self, conn: AsyncConnection[Any], catalog: Catalog, keyring: RotatingKeyring, cid: str
    ) -> None:
        self.conn, self.catalog, self.keyring, self.cid = conn, catalog, keyring, cid
        self.out: list[Publication] = []

    def put(self, target: Target, key: str, record: OpenRecord | DatasetRecord | None) -> None:
        if isinstance(record, OpenRecord):
            k = target.entry.deidentification.k_anonymity
            if release_problems(record, target.entry, k if record.kind == "aggregate" else None):
                record = None  # never release a value the guard refuses: withdraw it instead
        if record is None:
            headers = _headers(target, self.cid, "withdraw")
            self.out.append(Publication(target.topic, key.encode(), None, headers))
            return
        value = record.model_copy(update={"supersedes": self.cid}).to_kafka_value()
        headers = _headers(target, self.cid, "supersede")
        self.out.append(Publication(target.topic, key.encode(), value, headers))

    async def window(self, target: Target, record: DatasetRecord) -> None:
        """Recompute one (cell, bucket, group) window of a windowed target from current rows."""
        source = self.catalog.get(target.source)
        cell = cell_of(record, target.entry)
        if source is None or cell is None:
            return  # a record without a position never entered a window
        bucket_s = target.entry.deidentification.time_bucket_s or 60
        bucket = time_bucket(record.observed_at, bucket_s)
        names = group_items(target.entry, source) if target.mode == "aggregate" else ()
        group = tuple((n, record.values.get(n)) for n in names)
        rows = [
            r
            for r in await _records(
                self.conn,
                source,
                "t.observed_at >= %s AND t.observed_at < %s",
                (bucket, bucket + timedelta(seconds=bucket_s)),
                current=True,
            )
            if (c := cell_of(r, target.entry)) is not None
            and c.cell_id == cell.cell_id
            and tuple((n, r.values.get(n)) for n in names) == group
        ]
        k = target.entry.deidentification.k_anonymity or 1
        if target.mode == "aggregate":
            # as the share stage counts: participants, not the RSUs that reported them
            entities = len({counted_party(r, source) for r in rows})
            values = aggregate_values(target.entry, group, tuple(rows), entities)
            agg = aggregate_record(target, cell, bucket, group, values)
            self.put(target, agg.record_id, agg if entities >= k else None)
            return
        # k-suppressed microdata: the corrected record is released only in a window of >= k.
        entities = len({r.entity_id for r in rows})
        opened = open_microdata(record, target.entry, self.keyring)
        current = [r for r in rows if r.record_id == record.record_id]
        self.put(
            target, opened.record_id,
            open_microdata(current[0], target.entry, self.keyring)
            if current and entities >= k else None,
        )  # fmt: skip


async def correction_outputs(
    conn: AsyncConnection[Any],
    catalog: Catalog,
    keyring: RotatingKeyring,
    prefix: str,
    event: dict[str, Any],
    *,
    public_key: str,
    case_id: str | None = None,
) -> list[Publication]:
    """Every publication a stored correction event needs, the signed event itself last."""
    entry = catalog.get(event["dataset"])
    if entry is None:
        msg = f"dataset {event['dataset']}"
        raise CaseNotFound(msg)
    found = await _records(
        conn, entry, "t.record_id = %s AND t.observed_at = %s",
        (event["record_id"], event["observed_at"]), current=False,
    )  # fmt: skip
    if not found:
        msg = f"stored record {event['record_id']}"
        raise CaseNotFound(msg)
    original = found[0]
    corrected: DatasetRecord | None = None
    if event["action"] == "correct":
        values = {k: v for k, v in (event["new_values"] or {}).items() if v is not None}
        corrected = original.model_copy(update={"values": values})
    build = _Builder(conn, catalog, keyring, event["correction_id"])
    for target in plan_targets(catalog, prefix)[0]:
        if target.source != entry.code:
            continue
        windowed = target.mode == "aggregate" or (
            target.mode == "microdata" and target.entry.deidentification.k_anonymity
        )
        if windowed:
            await build.window(target, original)
            if corrected is not None and _moves(original, corrected, target, catalog):
                await build.window(target, corrected)
        elif target.mode == "record":
            shared = share_record(corrected, entry, keyring) if corrected else None
            if shared is not None and corrected is not None:
                shared = await _sealed_share(conn, entry, corrected, shared, target.tier)
            build.put(target, original.record_id, shared)
        else:
            key = open_microdata(original, target.entry, keyring).record_id
            build.put(
                target, key, open_microdata(corrected, target.entry, keyring) if corrected else None
            )
    notice = {
        "type": "sensegate-correction/1",
        "case_id": case_id,
        "event": json.loads(event["body"]),
        "body": event["body"],
        "signature": event["signature"],
        "key_id": event["key_id"],
        "public_key": public_key,
        "outputs": [
            {"topic": p.topic, "key": p.key.decode(), "tombstone": p.value is None}
            for p in build.out
        ],
    }
    build.out.append(
        Publication(
            corrections_topic(prefix),
            original.record_id.encode(),
            json.dumps(notice, ensure_ascii=False, sort_keys=True).encode(),
            _headers(None, event["correction_id"], event["action"]),
        )
    )
    return build.out


async def _sealed_share(
    conn: AsyncConnection[Any],
    entry: DatasetEntry,
    corrected: DatasetRecord,
    shared: DatasetRecord,
    tier: str,
) -> DatasetRecord | None:
    """A personal dataset's corrected share record sealed as the share service seals its records.

    Under the subject key's share derivation, so that a later erasure of the subject also shreds
    the correction (processors.provenance.sealed_records); a subject without a live key (erased
    meanwhile) gets its record withdrawn instead of published in clear.
    """
    name, names = subject_item(entry), personal_items(entry)
    subject = corrected.values.get(name) if name else None
    if subject is None or not names:
        return shared
    live = await live_sealing_key(conn, entry.code, str(subject))
    if live is None:
        return None  # erased: a tombstone, never the values in clear
    kid, key = live
    return seal_model(shared, names, tier_key(key, tier, entry.code), kid, tier)


def _moves(a: DatasetRecord, b: DatasetRecord, target: Target, catalog: Catalog) -> bool:
    """True when a correction moves the record into another window (other group value)."""
    source = catalog.get(target.source)
    names = group_items(target.entry, source) if source and target.mode == "aggregate" else ()
    return any(a.values.get(n) != b.values.get(n) for n in names)
