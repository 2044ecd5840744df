"""Sharing processor: ``sensegate.data.*`` -> ``sensegate.share.<code>`` and ``sensegate.open.<code>``.

``ShareProcessor`` is the synchronous core: it turns one dataset record into the outputs the
catalog allows (see ``processors.share.rules``) and holds the (cell, bucket) windows of
k-suppressed outputs. ``processors.share.service.run_share`` is the Kafka loop around it.

Delivery: at-least-once. Offsets are committed only after every output of the batch was
acknowledged by Kafka (acks=all), and never beyond the lowest offset still held by an open
suppression window, so a crash replays whatever was not yet published. Record key = record id.
A replay after a crash may publish an aggregate again under the same record id (its count then
covers the replayed records only); consumers keep one row per record id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.record import DatasetRecord
from contracts.sealed import KeyDestroyed, SealInvalid, kid_of
from contracts.topics import data_topic, dlq_topic
from processors.catalog import Catalog
from processors.provenance.personal import KeyRow
from processors.provenance.sealed_records import open_model, personal_items, seal_model, tier_key
from processors.share import rules
from processors.share.deidentify import CellWindow, RotatingKeyring, WindowKey, time_bucket
from processors.share.derived_data import derived_data_record
from processors.share.fences import fence_of, generalized

__all__ = ["Output", "ShareProcessor", "ShareStats"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class ShareStats:
    """Counts of one share run: published per topic, suppressed windows, blocked and invalid records."""

    published: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    blocked: int = 0
    invalid: int = 0
    erased: int = 0  # sealed records whose subject key was destroyed (nothing published)
    fenced: dict[str, int] = field(default_factory=dict)  # "<fence id>:<tier>:<code>" -> records


def _opened(
    record: DatasetRecord, keys: Mapping[str, KeyRow]
) -> tuple[DatasetRecord, tuple[str, bytes]]:
    """The plain form of a sealed data record and its (key id, key); raises KeyDestroyed/SealInvalid."""
    kid = kid_of(record.sealed or "")
    row = keys.get(kid)
    if row is None or row.dataset != record.dataset:
        raise KeyDestroyed(kid)
    return open_model(record, lambda _k: row.key), (kid, row.key)


class ShareProcessor:
    """Maps dataset records to share/open outputs by catalog class; one instance per consumer task.

    Not thread-safe. ``process`` never raises for a bad record: it returns a dead letter instead.
    Suppressed windows (< k entities) produce nothing; blocked open values become dead letters
    with reason ``open_release_blocked`` and never reach an open topic.
    """

    def __init__(
        self,
        catalog: Catalog,
        keyring: RotatingKeyring,
        *,
        prefix: str = "sensegate.",
        lateness: timedelta = timedelta(seconds=60),
        max_delay: timedelta = timedelta(minutes=5),
        seal_personal: bool = True,
    ) -> None:
        self.prefix = prefix
        # False: a sealed record's share form goes out in clear (opt-in; erasure then stops at
        # the share tier's compaction, docs/provenance.md)
        self.seal_personal = seal_personal
        self.targets, self.refused = rules.plan_targets(catalog, prefix)
        self._catalog = catalog
        self._keyring = keyring
        self._max_delay = max_delay
        self._windows: dict[str, CellWindow] = {}
        self._by_source: dict[str, list[rules.Target]] = {}
        for target in self.targets:
            self._by_source.setdefault(target.source, []).append(target)
            k = target.entry.deidentification.k_anonymity
            if target.mode == "aggregate" or (target.mode == "microdata" and k):
                self._windows[target.name] = CellWindow(
                    bucket_s=target.entry.deidentification.time_bucket_s or 60,
                    k=k or 1,
                    lateness=lateness,
                )
        # One target per derived entry also writes the entry's data topic (its table, via the sink).
        firsts: dict[str, str] = {}
        for target in self.targets:
            if target.mode == "aggregate":
                firsts.setdefault(target.entry.code, target.name)
        self._data_targets = frozenset(firsts.values())
        self._event_max: dict[tuple[str, int], datetime] = {}
        self.stats = ShareStats()

    @property
    def source_topics(self) -> list[str]:
        """Data topics this processor must read."""
        return sorted(data_topic(self.prefix, s) for s in self._by_source)

    def process(
        self,
        value: bytes,
        tp: tuple[str, int],
        offset: int,
        keys: Mapping[str, KeyRow] | None = None,
    ) -> list[Output]:
        """Outputs (or one dead letter) for one data-topic record.

        A sealed record (personal dataset) is opened with ``keys`` (live subject keys by id); one
        whose key was destroyed was erased: it is counted (``stats.erased``) and yields nothing.
        """
        try:
            record = DatasetRecord.from_kafka_value(value)
        except ValidationError as exc:
            self.stats.invalid += 1
            return [
                self._dead(
                    ReasonCode.SCHEMA_INVALID, f"not a DatasetRecord: {exc}", value, tp, offset
                )
            ]
        sealing: tuple[str, bytes] | None = None
        if record.sealed is not None:
            try:
                record, sealing = _opened(record, keys or {})
            except KeyDestroyed:
                self.stats.erased += 1
                return []
            except SealInvalid as exc:
                self.stats.invalid += 1
                return [self._dead(exc.reason, exc.detail, value, tp, offset)]
        moment = record.observed_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > self._event_max.get(tp, moment - timedelta(1)):
            self._event_max[tp] = moment
        outputs: list[Output] = []
        fence = fence_of(record, self._catalog.geofences)
        for target in self._by_source.get(record.dataset, ()):
            routed = record
            if fence is not None:
                # C15: the exact record stays on the data topic; this output drops or coarsens it.
                key = f"{fence.id}:{target.name}"
                self.stats.fenced[key] = self.stats.fenced.get(key, 0) + 1
                policy = target.entry.sensitive_areas
                if policy.action == "drop" or policy.cell_m is None:
                    continue
                routed = generalized(record, policy.cell_m)
            outputs += self._route(target, routed, tp, offset, value, sealing)
        return outputs

    def _route(  # noqa: PLR0917 - one call site, the record's coordinates in their usual order
        self,
        target: rules.Target,
        record: DatasetRecord,
        tp: tuple[str, int],
        offset: int,
        raw: bytes,
        sealing: tuple[str, bytes] | None = None,
    ) -> list[Output]:
        if target.mode == "record":
            shared = rules.share_record(record, target.entry, self._keyring)
            if sealing is not None and self.seal_personal:
                # Sealed in, sealed out: the share tier's values under the subject key's share
                # derivation, so erasing the subject also shreds the earlier share records.
                kid, subject_key = sealing
                names = personal_items(target.entry)
                share_key = tier_key(subject_key, target.tier, target.entry.code)
                shared = seal_model(shared, names, share_key, kid, target.tier)
            return [self._out(target, shared.record_id, shared.to_kafka_value())]
        window = self._windows.get(target.name)
        if target.mode == "microdata":
            opened = rules.open_microdata(record, target.entry, self._keyring)
            if window is None:
                return self._guarded(target, [opened], raw, tp, offset)
            cell_id = opened.cell.id if opened.cell else "-"
            key = WindowKey(target.name, cell_id, opened.period_start)
            window.add(key, record.entity_id, opened, tp, offset)
            return []
        cell = rules.cell_of(record, target.entry)
        if cell is None or window is None:
            return []  # no position: cannot be placed in a cell, so it is not counted
        source = self._catalog.get(target.source)
        names = rules.group_items(target.entry, source) if source else ()
        group = tuple((n, record.values.get(n)) for n in names)
        bucket = time_bucket(record.observed_at, target.entry.deidentification.time_bucket_s or 60)
        window.add(
            WindowKey(target.name, cell.cell_id, bucket, group),
            rules.counted_party(record, source),
            record,
            tp,
            offset,
        )
        return []

    def tick(self, now: datetime | None = None) -> list[Output]:
        """Close windows whose bucket is over (event time, or wall clock minus max delay)."""
        wall = (now or datetime.now(UTC)) - self._max_delay
        outputs: list[Output] = []
        for target in self.targets:
            window = self._windows.get(target.name)
            if window is None:
                continue
            seen = [
                t
                for (topic, _p), t in self._event_max.items()
                if topic == data_topic(self.prefix, target.source)
            ]
            horizon = max([min(seen)] if seen else [], default=wall)
            outputs += self._released(target, window.close_until(max(horizon, wall)))
        return outputs

    def drain(self) -> list[Output]:
        """Close every window (end of a bounded run)."""
        outputs: list[Output] = []
        for target in self.targets:
            window = self._windows.get(target.name)
            if window is not None:
                outputs += self._released(target, window.close_all())
        return outputs

    def held_offsets(self) -> dict[tuple[str, int], int]:
        """Lowest offset per partition still held by any open window (commit no further)."""
        held: dict[tuple[str, int], int] = {}
        for window in self._windows.values():
            for tp, offset in window.held_offsets().items():
                held[tp] = min(offset, held.get(tp, offset))
        return held

    def _released(self, target: rules.Target, releases: Iterable[Any]) -> list[Output]:
        outputs: list[Output] = []
        k = target.entry.deidentification.k_anonymity
        for release in releases:
            if not release.released:
                self.stats.suppressed += 1
                continue
            if target.mode == "microdata":
                outputs += self._guarded(target, list(release.rows), b"", None, None)
                continue
            cell = rules.cell_of(release.rows[0], target.entry)
            if cell is None:  # cannot happen: only located records enter an aggregate window
                continue
            values = rules.aggregate_values(
                target.entry, release.key.group, release.rows, release.entity_count
            )
            agg = rules.aggregate_record(
                target, cell, release.key.bucket_start, release.key.group, values
            )
            released = self._guarded(target, [agg], b"", None, None, k=k)
            outputs += released
            if target.name in self._data_targets and released[0].topic == target.topic:
                natural = rules.aggregate_natural_key(
                    cell.cell_id, release.key.bucket_start, release.key.group
                )
                data = derived_data_record(agg, self.prefix, natural)
                topic = data_topic(self.prefix, target.entry.code)
                self.stats.published[topic] = self.stats.published.get(topic, 0) + 1
                outputs.append(Output(topic, data.kafka_key(), data.to_kafka_value()))
        return outputs

    def _guarded(
        self,
        target: rules.Target,
        records: list[Any],
        raw: bytes,
        tp: tuple[str, int] | None,
        offset: int | None,
        *,
        k: int | None = None,
    ) -> list[Output]:
        outputs: list[Output] = []
        for rec in records:
            problems = rules.release_problems(rec, target.entry, k)
            if problems:
                self.stats.blocked += 1
                logger.error("open release blocked for %s: %s", target.name, "; ".join(problems))
                outputs.append(
                    self._dead(
                        ReasonCode.OPEN_RELEASE_BLOCKED, "; ".join(problems), raw, tp, offset
                    )
                )
                continue
            outputs.append(self._out(target, rec.record_id, rec.to_kafka_value()))
        return outputs

    def _out(self, target: rules.Target, record_id: str, value: bytes) -> Output:
        self.stats.published[target.topic] = self.stats.published.get(target.topic, 0) + 1
        headers = (("sg.rule_set", target.entry.code.encode()), ("sg.tier", target.tier.encode()))
        return Output(target.topic, record_id.encode(), value, headers)

    def _dead(
        self,
        reason: ReasonCode,
        detail: str,
        raw: bytes,
        tp: tuple[str, int] | None,
        offset: int | None,
    ) -> Output:
        coords = {"topic": tp[0], "partition": tp[1], "offset": offset} if tp else None
        letter = DeadLetter(reason, detail[:500], Stage.SHARE, raw, coordinates=coords)
        return Output(
            dlq_topic(self.prefix),
            letter.kafka_key(),
            letter.to_json(),
            tuple(letter.kafka_headers()),
        )
