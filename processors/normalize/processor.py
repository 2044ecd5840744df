"""NormalizeProcessor: raw records -> governed, validated, pseudonymized, de-duplicated dataset records.

Stages per batch (all pure, in this order):

1. one-source rule, part 1: an unregistered device goes to quarantine (``unknown_device``);
2. the family mapper decodes with the codec named by the device entry and builds candidates;
3. one-source rule, part 2: dataset unknown -> ``unknown_dataset``; device not the dataset's
   provider or not registered for it -> ``not_dataset_provider``; MQTT topic not a
   ``source_topics`` filter of exactly that one entry (C1) -> ``no_catalog_entry`` /
   ``ambiguous_catalog_entry``; identity in payload vs topic;
4. timeliness over the whole batch (numpy), then per-dataset validation (TypeAdapter + numpy);
5. identifiers pseudonymized, natural key and record id computed, recent duplicates dropped.

A message yields all its records or one dead letter (never a part of its records).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.envelope import Envelope, RawRecord
from contracts.errors import Rejected
from contracts.record import (
    RecordValue,
    WireProvenance,
    WireRecord,
    WireSourceValue,
    record_id_for,
    wire_point,
)
from processors import __version__
from processors.normalize.catalog_view import CatalogLike, DeviceLike, EntryLike, RegistryLike
from processors.normalize.contract import (
    BatchResult,
    Candidate,
    FamilyMapper,
    Mapped,
    Processor,
    RebirthRequest,
    RecordRejected,
)
from processors.normalize.dedup import RecentKeys, natural_key
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig, check_identity, timeliness
from processors.normalize.validate import DatasetValidator

__all__ = ["NormalizeProcessor", "conflict_letter", "dead_letter_for", "ns_to_datetime"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_MAX_NS = 2**63  # numpy's int64 nanoseconds end in 2262


def ns_to_datetime(ns: int) -> datetime:
    """Unix nanoseconds -> aware UTC datetime (microsecond precision, exact integer arithmetic)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def dead_letter_for(raw: RawRecord, reason: ReasonCode, detail: str) -> DeadLetter:
    """Dead letter carrying the original bytes, the envelope and the raw Kafka coordinates.

    A payload the gateway sealed stays sealed in the letter (``envelope.seal`` names its key), so
    an erasure that destroys the raw key reaches the dead-letter topic too.
    """
    c = raw.coordinates
    meta = raw.envelope.metadata()
    payload = raw.envelope.payload
    if raw.sealed is not None:
        payload, meta["seal"] = raw.sealed
    return DeadLetter(
        reason=reason,
        detail=detail,
        stage=Stage.NORMALIZE,
        payload=payload,
        envelope=meta,
        coordinates={"topic": c.topic, "partition": c.partition, "offset": c.offset},
    )


def conflict_letter(raw: RawRecord, record_id: str, first_sha256: str, sha256: str) -> DeadLetter:
    """Dead letter of a message whose natural key was already taken by a different payload (B12)."""
    detail = (
        f"record {record_id} was already produced from payload sha256 {first_sha256}; "
        f"this payload has sha256 {sha256}"
    )
    return dead_letter_for(raw, ReasonCode.CONFLICTING_DUPLICATE, detail)


@dataclass(slots=True)
class _Staged:
    raw: RawRecord
    mapped: Mapped
    entries: list[EntryLike]
    rejection: tuple[ReasonCode, str] | None = None
    flags: list[list[str]] = field(default_factory=list)
    values: list[dict[str, RecordValue]] = field(default_factory=list)


class NormalizeProcessor(Processor):
    """The normalize stage as a pure batch map (see module docstring).

    Not thread-safe: mappers keep protocol state and the de-duplication cache is mutable; use one
    instance per consumer task. ``forget`` undoes the cache entries of a batch that was not delivered.
    """

    def __init__(
        self,
        *,
        catalog: CatalogLike,
        registry: RegistryLike,
        mappers: Mapping[str, FamilyMapper],
        pseudonymizer: Pseudonymizer,
        quality: QualityConfig | None = None,
        dedup: RecentKeys | None = None,
        withheld: Mapping[str, str] | None = None,
    ) -> None:
        self._catalog = catalog
        self._registry = registry
        self._mappers = dict(mappers)
        self._pseudo = pseudonymizer
        self._quality = quality or QualityConfig()
        self._dedup = dedup or RecentKeys(100_000)
        self._validators: dict[tuple[str, int], DatasetValidator] = {}
        # C14: datasets whose loaded definition is an unreviewed change -> why they are refused
        self._withheld = dict(withheld or {})

    def process(self, batch: Sequence[RawRecord]) -> BatchResult:
        """Normalize one batch; never raises for bad input."""
        dead: list[DeadLetter] = []
        quarantined: list[DeadLetter] = []
        rebirths: list[RebirthRequest] = []
        staged: list[_Staged] = []
        for raw in batch:
            env = raw.envelope
            device = self._registry.lookup(env.family, env.device_id)
            if device is None:
                detail = f"device {env.family}/{env.device_id} is not registered"
                quarantined.append(dead_letter_for(raw, ReasonCode.UNKNOWN_DEVICE, detail))
                continue
            try:
                mapped = self._map(raw, device)
                rebirths.extend(mapped.rebirths)
                entries = [self._govern(c, device, env) for c in mapped.candidates]
            except Rejected as exc:
                if isinstance(exc, RecordRejected):
                    rebirths.extend(exc.rebirths)
                dead.append(dead_letter_for(raw, exc.reason, exc.detail))
                continue
            staged.append(_Staged(raw, mapped, entries))
        self._check_time(staged)
        self._validate(staged)
        records, duplicates = self._build(staged, dead)
        return BatchResult(
            records=tuple(records),
            dead_letters=tuple(dead),
            quarantined=tuple(quarantined),
            rebirths=tuple({(r.group, r.edge_node): r for r in rebirths}.values()),
            duplicates=duplicates,
            inputs=len(batch),
        )

    def reload(self) -> None:
        """Let stateful mappers re-read their shared state (called on partition assignment)."""
        for mapper in self._mappers.values():
            reload = getattr(mapper, "reload", None)
            if callable(reload):
                reload()

    def forget(self, result: BatchResult) -> None:
        """Remove a batch's record ids from the recent-key cache (its outputs were not delivered)."""
        for record in result.records:
            self._dedup.forget(record.record_id)

    def _map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        mapper = self._mappers.get(raw.envelope.family)
        if mapper is None:
            detail = f"family {raw.envelope.family!r} is not handled by this processor"
            raise RecordRejected(ReasonCode.UNSUPPORTED_MESSAGE, detail)
        return mapper.map(raw, device)

    def _govern(self, cand: Candidate, device: DeviceLike, env: Envelope) -> EntryLike:
        entry = self._catalog.get(cand.dataset)
        if entry is None:
            detail = f"dataset {cand.dataset!r} is not in the catalog"
            raise RecordRejected(ReasonCode.UNKNOWN_DATASET, detail)
        if cand.dataset in self._withheld:
            raise RecordRejected(ReasonCode.UNKNOWN_CATALOG_VERSION, self._withheld[cand.dataset])
        if device.provider != entry.provider or cand.dataset not in device.datasets:
            detail = (
                f"device {device.family}/{device.device_id} (provider {device.provider}, datasets "
                f"{','.join(device.datasets) or '-'}) is not the source of {cand.dataset} "
                f"(provider {entry.provider})"
            )
            raise RecordRejected(ReasonCode.NOT_DATASET_PROVIDER, detail)
        routing = self._catalog.route_problem(env.topic, env.family, cand.dataset, device.datasets)
        if routing is not None:
            raise RecordRejected(ReasonCode(routing[0]), routing[1])
        check_identity(cand, env.device_id)
        return entry

    def _check_time(self, staged: list[_Staged]) -> None:
        observed: list[int] = []
        received: list[int] = []
        owners: list[tuple[_Staged, int]] = []
        for s in staged:
            s.flags = [list(c.flags) for c in s.mapped.candidates]
            for j, cand in enumerate(s.mapped.candidates):
                ns = cand.observed_ns
                if not 0 <= ns < _MAX_NS and s.rejection is None:
                    # beyond 64-bit nanoseconds (years past 2262 or before 1970; found by fuzzing)
                    code = ReasonCode.FUTURE_TIMESTAMP if ns > 0 else ReasonCode.TOO_OLD
                    s.rejection = (code, f"device time {ns} ns is outside 1970-2262")
                observed.append(min(max(ns, 0), _MAX_NS - 1))
                received.append(s.raw.envelope.received_ns)
                owners.append((s, j))
        for (s, j), (reason, flag) in zip(
            owners, timeliness(observed, received, self._quality), strict=True
        ):
            s.flags[j].append(flag)
            if reason is not None and s.rejection is None:
                cand = s.mapped.candidates[j]
                lag = (s.raw.envelope.received_ns - cand.observed_ns) / 1e9
                s.rejection = (
                    reason,
                    f"device time {cand.observed_ns} ns is {lag:+.1f} s from receive",
                )

    def _validate(self, staged: list[_Staged]) -> None:
        groups: dict[tuple[str, int], list[tuple[_Staged, int]]] = {}
        for s in staged:
            s.values = [{} for _ in s.mapped.candidates]
            if s.rejection is not None:
                continue
            for j, entry in enumerate(s.entries):
                groups.setdefault((entry.code, entry.version), []).append((s, j))
        for (code, version), members in groups.items():
            validator = self._validators.get((code, version))
            if validator is None:
                entry = members[0][0].entries[members[0][1]]
                validator = DatasetValidator(entry, out_of_range=self._quality.out_of_range)
                self._validators[(code, version)] = validator
            rows = [self._pseudonymized(s.mapped.candidates[j], s.entries[j]) for s, j in members]
            for (s, j), outcome in zip(members, validator.validate(rows), strict=True):
                if outcome.reason is not None:
                    if s.rejection is None:
                        s.rejection = (outcome.reason, f"{code}: {outcome.detail}")
                    continue
                s.values[j] = outcome.values
                s.flags[j].extend(outcome.flags)

    def _pseudonymized(self, cand: Candidate, entry: EntryLike) -> dict[str, RecordValue]:
        values = dict(cand.values)
        for item in entry.items:
            if item.sensitivity == "identifier" and values.get(item.name) is not None:
                values[item.name] = self._pseudo.pseudonym(
                    values[item.name], f"{entry.code}.{item.name}"
                )
        return values

    def _build(self, staged: list[_Staged], dead: list[DeadLetter]) -> tuple[list[WireRecord], int]:
        records: list[WireRecord] = []
        duplicates = 0
        has_ids: dict[str, bool] = {}
        for s in staged:
            if s.rejection is not None:
                dead.append(dead_letter_for(s.raw, *s.rejection))
                continue
            env, coords = s.raw.envelope, s.raw.coordinates
            received_at = ns_to_datetime(env.received_ns)
            # one Provenance per message (with or without the key id, per profile conversion),
            # shared by its records
            shared: dict[tuple[bool, str | None, tuple[WireSourceValue, ...]], WireProvenance] = {}
            conflicted = False
            for j, cand in enumerate(s.mapped.candidates):
                entry = s.entries[j]
                key = natural_key(cand.key_parts)
                rid = record_id_for(cand.dataset, key)
                prior = self._dedup.remember(rid, env.sha256)
                if prior is not None:
                    if prior != env.sha256 and not conflicted:
                        conflicted = True  # one dead letter per message, however many records
                        dead.append(conflict_letter(s.raw, rid, prior, env.sha256))
                    elif prior == env.sha256:
                        duplicates += 1
                    continue
                ids = has_ids.get(entry.code)
                if ids is None:
                    ids = has_ids[entry.code] = any(
                        i.sensitivity == "identifier" for i in entry.items
                    )
                share_key = (ids, cand.profile, cand.source_values)
                provenance = shared.get(share_key)
                if provenance is None:
                    provenance = shared[share_key] = WireProvenance(
                        raw_sha256=env.sha256,
                        device_id=env.device_id,
                        gateway_id=env.gateway_id,
                        mqtt_topic=env.topic,
                        received_ns=env.received_ns,
                        kafka_topic=coords.topic,
                        kafka_partition=coords.partition,
                        kafka_offset=coords.offset,
                        codec=s.mapped.codec,
                        codec_version=s.mapped.codec_version,
                        processor_version=__version__,
                        pseudonym_key_id=self._pseudo.key_id if ids else None,
                        profile=cand.profile,
                        source_values=cand.source_values,
                    )
                # No model validation here: every value was checked by the batch validator.
                records.append(
                    WireRecord(
                        record_id=rid,
                        dataset=cand.dataset,
                        catalog_version=entry.version,
                        entity_id=cand.entity_id,
                        natural_key=key,
                        observed_at=ns_to_datetime(cand.observed_ns),
                        received_at=received_at,
                        values=s.values[j],
                        location=wire_point(cand.location),
                        quality=tuple(sorted(set(s.flags[j]))),
                        provenance=provenance,
                    )
                )
        return records, duplicates
