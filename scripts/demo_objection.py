"""The objection part of `make demo`: one objection from submission to the consumer's corrected record."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog

CONSUMER = "jl_transport_dept"  # a unit in agri_soil's share scope
Runner = Callable[..., str]


async def _latest(kafka: KafkaConfig, topic: str, keys: set[str]) -> dict[str, bytes | None]:
    """The last value per key among ``keys`` on ``topic`` (what a compacting consumer keeps)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.client_kwargs())
    await consumer.start()
    found: dict[str, bytes | None] = {}
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer.topics()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for m in messages:
                    key = (m.key or b"").decode()
                    if key in keys:
                        found[key] = m.value
    finally:
        await consumer.stop()
    return found


def _target(dsn: str) -> tuple[str, float] | None:
    """A stored agri_soil record with a soil moisture value: (record id, value)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT record_id, soil_moisture FROM sensegate.agri_soil_current "
            "WHERE soil_moisture IS NOT NULL ORDER BY observed_at DESC LIMIT 1"
        ).fetchone()
    return (str(row[0]), float(row[1])) if row else None


def _provider() -> str:
    entry = load_catalog().get("agri_soil")
    return entry.provider if entry else "jl_agri_bureau"


def run(run_cli: Runner, dsn: str, env: Mapping[str, str], state: Path) -> list[str]:
    """Walk one objection through its states; returns summary lines (empty when skipped)."""
    target = _target(dsn)
    if target is None:
        print("no agri_soil record stored; objection walkthrough skipped")
        return []
    record_id, old = target
    provider = _provider()
    token = {
        u: run_cli(f"issue an objections token for {u}", ["objections", "token", "issue", u],
                   capture=True, quiet=True).strip()
        for u in (CONSUMER, provider)
    }  # fmt: skip
    new = round(old * 0.8, 2)
    case = json.loads(run_cli(
        f"{CONSUMER} objects to agri_soil record {record_id} (moisture {old})",
        ["objections", "submit", "--dataset", "agri_soil", "--record-id", record_id,
         "--claim", "moisture reads 25 % high since the probe was moved", "--evidence",
         "site visit, reference probe"], capture=True, token=token[CONSUMER],
    ))  # fmt: skip
    case_id = case["case_id"]
    run_cli(f"{provider} accepts the case", ["objections", "decide", case_id, "accept",
            "--reason", "will verify on site"], capture=True, token=token[provider])  # fmt: skip
    decided = run_cli(
        f"{provider} corrects the record (moisture {old} -> {new})",
        ["objections", "decide", case_id, "correct", "--reason", "probe recalibrated",
         "--values", json.dumps({"soil_moisture": new})], capture=True, token=token[provider],
    )  # fmt: skip
    correction_id = json.loads(decided.split("\nevent chain")[0])["correction_id"]
    run_cli(f"{provider} answers the objector", ["objections", "answer", case_id, "--text",
            "corrected, thank you"], capture=True, token=token[provider])  # fmt: skip
    shown = run_cli("the case and its signed event chain", ["objections", "show", case_id],
                    capture=True, token=token[CONSUMER])  # fmt: skip
    states = [e["state"] for e in json.loads(shown.split("\nevent chain")[0])["events"]]
    kafka = KafkaConfig(bootstrap_servers=env["SENSEGATE_KAFKA__BOOTSTRAP_SERVERS"])
    prefix = kafka.topic_prefix
    notice = asyncio.run(_latest(kafka, f"{prefix}corrections", {record_id})).get(record_id)
    outputs = json.loads(notice)["outputs"] if notice else []
    lines = [f"case {case_id}: {' -> '.join(states)}; correction {correction_id}"]
    for out in outputs:
        value = asyncio.run(_latest(kafka, out["topic"], {out["key"]})).get(out["key"])
        doc = json.loads(value) if value else None
        shown_value = doc["values"].get("soil_moisture") if doc else "tombstone"
        lines.append(f"{out['topic']} key {out['key']}: soil_moisture {shown_value}, "
                     f"supersedes {doc.get('supersedes') if doc else '-'}")  # fmt: skip
    with psycopg.connect(dsn) as conn:
        now = conn.execute(
            "SELECT soil_moisture, correction_id FROM sensegate.agri_soil_current "
            "WHERE record_id = %s", (record_id,),
        ).fetchone()  # fmt: skip
    lines.append(f"database agri_soil_current: soil_moisture {now[0] if now else None} "
                 f"(correction {now[1] if now else None}); the original stays provable")  # fmt: skip
    (state / "demo" / "objection.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


if __name__ == "__main__":
    sys.exit("run through `make demo` (scripts/demo.py)")
