"""The derived part of the `make demo` summary: k-anonymous flow records on their open topic and table."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg
from aiokafka import AIOKafkaConsumer

from contracts.settings import KafkaConfig
from contracts.topics import open_topic
from processors.share.rules import OpenRecord

__all__ = ["show_flows"]

ENTRY = "v2x_participant_flow"
BUCKET_S = 300  # the entry's time_bucket_s
K = 10  # the entry's k_anonymity


async def _open_count(kafka: KafkaConfig, since: datetime) -> int:
    """Records on the open flow topic for windows from ``since`` on, read from the start."""
    consumer = AIOKafkaConsumer(
        open_topic(kafka.topic_prefix, ENTRY),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka.client_kwargs(),
    )
    await consumer.start()
    count = 0
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=1500)
            got = sum(len(v) for v in batch.values())
            count += sum(
                OpenRecord.model_validate_json(m.value or b"{}").period_start >= since
                for msgs in batch.values()
                for m in msgs
            )
            if not got and consumer.assignment():
                break
    finally:
        await consumer.stop()
    return count


def _table(dsn: str, since: datetime) -> tuple[int, int | None]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT count(*), min(entities) FROM sensegate.{ENTRY} WHERE observed_at >= %s",  # noqa: S608 - constant name
            (since,),
        ).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def show_flows(dsn: str, kafka: KafkaConfig, close_delay_s: float, traffic_start: float) -> None:
    """Wait until the share service released this run's flow cells, then show them.

    A 5-minute window closes ``close_delay_s`` (lateness + maximum delay of the share service)
    after it ends; cells of windows from the one ``traffic_start`` falls in count.
    """
    since = datetime.fromtimestamp(traffic_start // BUCKET_S * BUCKET_S, UTC)
    now = time.time()
    window_end = (now // BUCKET_S + 1) * BUCKET_S
    deadline = window_end + close_delay_s + 30
    until = datetime.fromtimestamp(deadline, UTC).strftime("%H:%M:%S")
    print(f"\n== derived entry {ENTRY}: waiting for the flow window to close (until {until} UTC "
          f"at most: 5-minute cells close {close_delay_s:.0f} s after they end)", flush=True)  # fmt: skip
    rows, opened, low = 0, 0, None
    while time.time() < deadline:
        rows, low = _table(dsn, since)
        opened = asyncio.run(_open_count(kafka, since))
        if rows and opened:
            break
        time.sleep(15)
        print(f"  {time.strftime('%H:%M:%S')}: table rows {rows}, open records {opened}", flush=True)
    print(f"{ENTRY}, windows from {since:%H:%M} UTC: {opened} records on {open_topic(kafka.topic_prefix, ENTRY)}, {rows} rows in "
          f"sensegate.{ENTRY}; smallest released cell {low} participants (k = {K})")  # fmt: skip
    if not rows:
        print("  no cell reached k distinct participants in a window (or the window is still open)")
        return
    with psycopg.connect(dsn) as conn:
        sample = conn.execute(
            f"SELECT observed_at, entity_id, ptc_type, entities, records, mean_speed "  # noqa: S608
            f"FROM sensegate.{ENTRY} WHERE observed_at >= %s "
            "ORDER BY observed_at DESC, entities DESC LIMIT 5",
            (since,),
        ).fetchall()
    print("  period start (UTC)         cell               type       entities  records  mean m/s")
    for at, cell, kind, entities, records, speed in sample:
        print(f"  {at:%Y-%m-%d %H:%M:%S}        {cell:<18} {kind or '-':<10} {entities:>8}  "
              f"{records:>7}  {speed if speed is not None else '-'}")  # fmt: skip
