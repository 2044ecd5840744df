"""Provincial side I/O: read replicated topics to their end, keep the witness and the merged catalog.

State lives in one folder: ``instances.json`` (admitted instances and their pinned checkpoint
keys), ``witness/<code>.jsonl`` (checkpoints accepted so far) and ``catalog.json`` (the merge).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.settings import KafkaConfig
from processors.federation.config import REGISTRATION_TOPIC, FederationError
from processors.federation.province import (
    CheckpointVerdict,
    MergedCatalog,
    Registration,
    merge_registrations,
    verify_checkpoints,
)

__all__ = [
    "MergeReport",
    "ProvinceStore",
    "RecordIdDeduper",
    "held",
    "partitions_of",
    "read_topic",
    "run_merge",
    "topic_counts",
]


class RecordIdDeduper:
    """Provincial consumers drop replays: MirrorMaker delivers at least once, ids are unique."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.duplicates = 0

    def accept(self, value: bytes) -> bool:
        """True the first time a record id is seen; False (and counted) for a duplicate."""
        record_id = str(json.loads(value)["record_id"])
        if record_id in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(record_id)
        return True


async def partitions_of(kafka: KafkaConfig, topic: str, timeout_s: float = 30.0) -> list[int]:
    """Partition numbers of ``topic``; empty when it does not exist (or is not visible)."""
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        if topic not in set(await admin.list_topics()):
            return []
        described = await asyncio.wait_for(admin.describe_topics([topic]), timeout_s)
    finally:
        await admin.close()
    return sorted(int(p["partition"]) for d in described for p in d["partitions"])


async def read_topic(kafka: KafkaConfig, topic: str, timeout_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` up to its current end (no consumer group); empty when absent."""
    numbers = await partitions_of(kafka, topic, timeout_s)
    if not numbers:
        return []
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.client_kwargs())
    await asyncio.wait_for(consumer.start(), timeout_s)
    try:
        parts = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await _at_end(consumer, ends):
            if loop.time() > deadline:
                msg = f"reading {topic} did not reach its end within {timeout_s:.0f} s"
                raise FederationError(msg, retriable=True)
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def held(kafka: KafkaConfig, topic: str) -> int:
    """Records ``topic`` holds now (end minus start offsets); 0 when it does not exist."""
    parts = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
    if not parts:
        return 0
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.client_kwargs())
    await consumer.start()
    try:
        consumer.assign(parts)  # stopping a consumer that never had partitions can be cancelled
        ends = await consumer.end_offsets(parts)
        starts = await consumer.beginning_offsets(parts)
        return sum(ends[tp] - starts[tp] for tp in parts)
    finally:
        await consumer.stop()


async def topic_counts(kafka: KafkaConfig, prefixes: tuple[str, ...]) -> dict[str, int]:
    """Records held by each topic whose name starts with one of ``prefixes``."""
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefixes)]
    finally:
        await admin.close()
    return {topic: await held(kafka, topic) for topic in topics}


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


@dataclass(frozen=True)
class ProvinceStore:
    """The province's state folder."""

    root: Path

    def instances(self) -> dict[str, dict[str, Any]]:
        """Admitted instances: code -> {public_key, user, region}."""
        path = self.root / "instances.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def admit(self, code: str, public_key: str, user: str) -> None:
        """Record an admitted instance and pin its checkpoint key."""
        data = self.instances()
        data[code] = {"public_key": public_key, "user": user}
        self.root.mkdir(parents=True, exist_ok=True)
        self._write(self.root / "instances.json", json.dumps(data, indent=2, sort_keys=True))

    def witnessed(self, code: str) -> list[dict[str, Any]]:
        """Checkpoints of ``code`` accepted so far, in chain order."""
        path = self.root / "witness" / f"{code}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def witness(self, code: str, records: list[dict[str, Any]]) -> None:
        """Append newly accepted checkpoints."""
        folder = self.root / "witness"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{code}.jsonl").open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)

    def save_catalog(self, merged: MergedCatalog) -> Path:
        """Write the merged provincial catalog."""
        path = self.root / "catalog.json"
        self._write(path, json.dumps(merged.as_json(), indent=2, ensure_ascii=False))
        return path

    @staticmethod
    def _write(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


@dataclass(frozen=True)
class MergeReport:
    """What one merge run found."""

    merged: MergedCatalog
    checkpoints: dict[str, CheckpointVerdict]


async def run_merge(kafka: KafkaConfig, store: ProvinceStore, prefix: str) -> MergeReport:
    """Merge every admitted instance's registrations and witness its new checkpoints."""
    regs: list[Registration] = []
    verdicts: dict[str, CheckpointVerdict] = {}
    for code, info in sorted(store.instances().items()):
        for rec in await read_topic(kafka, f"{code}.{prefix}{REGISTRATION_TOPIC}"):
            doc = json.loads(rec.value)
            if doc.get("instance") != code:  # a registration must name the topic's instance
                continue
            regs.append(Registration(doc, rec.timestamp))
        seen = store.witnessed(code)
        last_seq = max((int(r["seq"]) for r in seen), default=0)
        fresh = [
            json.loads(r.value) for r in await read_topic(kafka, f"{code}.{prefix}checkpoints")
        ]
        # Checkpoints are keyed by period, so partitions interleave; the chain order is ``seq``.
        fresh = sorted(
            (r for r in fresh if int(r.get("seq", 0)) > last_seq), key=lambda r: r["seq"]
        )
        verdict = verify_checkpoints(fresh, info["public_key"], seen[-1]["body"] if seen else None)
        store.witness(code, verdict.accepted)
        verdicts[code] = verdict
    merged = merge_registrations(regs)
    store.save_catalog(merged)
    return MergeReport(merged, verdicts)
