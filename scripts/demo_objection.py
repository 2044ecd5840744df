"""The objection part of `make demo`: one objection from submission to the consumer's corrected record."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from processors.objections.store import issue_token
from processors.sinks.timescale import connect
from runtime.kafka_client import config_for

CONSUMER = "jl_transport_dept"  # a unit in agri_soil's share scope
Runner = Callable[..., str]


async def _latest(kafka: KafkaConfig, topic: str, keys: set[str]) -> dict[str, bytes | None]:
    """The last value per key among ``keys`` on ``topic`` (what a compacting consumer keeps)."""
    consumer = AIOKafkaConsumer(
        topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
        **kafka.client_kwargs(),
    )  # fmt: skip
    found: dict[str, bytes | None] = {}
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=700, max_records=5000)
            for messages in batch.values():
                for m in messages:
                    if (key := (m.key or b"").decode()) in keys:
                        found[key] = m.value
            parts = list(consumer.assignment())
            if not parts or batch:
                continue
            ends = await consumer.end_offsets(parts)
            if not [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                break
    finally:
        await consumer.stop()
    return found


async def _tokens(dsn: str, units: tuple[str, ...]) -> dict[str, str]:
    """One API token per unit, issued in-process (a CLI start per token is slow on a busy host)."""
    conn = await connect(dsn, "sensegate", "sensegate-demo")
    async with conn:
        return {u: await issue_token(conn, u) for u in units}


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
    print(f"\n== objection API tokens for {CONSUMER} and {provider} "
          "(as 'objections token issue UNIT' makes them; not shown)")  # fmt: skip
    token = asyncio.run(_tokens(dsn, (CONSUMER, provider)))
    new = round(old * 0.8, 2)
    case = json.loads(run_cli(
        f"{CONSUMER} objects to agri_soil record {record_id} (moisture {old})",
        ["objections", "submit", "--dataset", "agri_soil", "--record-id", record_id,
         "--claim", "moisture reads 25 % high since the probe was moved", "--evidence",
         "site visit, reference probe"], capture=True, quiet=True, token=token[CONSUMER],
    ))  # fmt: skip
    case_id = case["case_id"]
    run_cli(f"{provider} accepts the case", ["objections", "decide", case_id, "accept",
            "--reason", "will verify on site"], capture=True, quiet=True, token=token[provider])  # fmt: skip
    decided = run_cli(
        f"{provider} corrects the record (moisture {old} -> {new})",
        ["objections", "decide", case_id, "correct", "--reason", "probe recalibrated",
         "--values", json.dumps({"soil_moisture": new})], capture=True, quiet=True,
        token=token[provider],
    )  # fmt: skip
    correction_id = json.loads(decided.split("\nevent chain")[0])["correction_id"]
    run_cli(f"{provider} answers the objector", ["objections", "answer", case_id, "--text",
            "corrected, thank you"], capture=True, quiet=True, token=token[provider])  # fmt: skip
    shown = run_cli("the case and its signed event chain", ["objections", "show", case_id],
                    capture=True, quiet=True, token=token[CONSUMER])  # fmt: skip
    states = [e["state"] for e in json.loads(shown.split("\nevent chain")[0])["events"]]
    kafka = config_for(env["SENSEGATE_KAFKA__BOOTSTRAP_SERVERS"])  # the operator's SCRAM login
    prefix = kafka.topic_prefix
    notice = asyncio.run(_latest(kafka, f"{prefix}corrections", {record_id})).get(record_id)
    outputs = json.loads(notice)["outputs"] if notice else []
    chain = shown.rstrip().rsplit("\n", 1)[-1]  # "event chain: OK" when signatures and links hold
    lines = [f"case {case_id}: {' -> '.join(states)} ({chain}); correction {correction_id}"]
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
