"""Helpers of the objection tests: read a topic with keys and headers, run the CLI as a unit."""

from __future__ import annotations

import asyncio
import json
import subprocess
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts.settings import KafkaConfig
from tests.fixtures.storage import run_cli


@dataclass(frozen=True)
class Seen:
    """One Kafka record as a consumer sees it."""

    key: str
    value: bytes | None
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        """The value as JSON (not for tombstones)."""
        assert self.value is not None
        parsed: dict[str, Any] = json.loads(self.value)
        return parsed


async def read_topic(config: KafkaConfig, topic: str, timeout_s: float = 20.0) -> list[Seen]:
    """Every record of ``topic`` from the beginning, in partition order."""
    consumer = AIOKafkaConsumer(
        topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
        **config.client_kwargs(),
    )  # fmt: skip
    seen: list[Seen] = []
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=700)
            for messages in batch.values():
                seen += [
                    Seen((m.key or b"").decode(), m.value,
                         {k: v.decode() for k, v in m.headers})
                    for m in messages
                ]  # fmt: skip
            assigned = consumer.assignment()
            if not assigned:
                continue
            ends = await consumer.end_offsets(list(assigned))
            positions = {tp: await consumer.position(tp) for tp in assigned}
            if not batch and all(positions[tp] >= ends[tp] for tp in assigned):
                break
    finally:
        await consumer.stop()
    return seen


def latest_by_key(records: list[Seen]) -> dict[str, Seen]:
    """What a compacting consumer keeps: the last record per key."""
    return {r.key: r for r in records}


def cli(
    env: dict[str, str], *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m processors objections ARGS`` acting as the unit holding ``token``."""
    extra = {"SENSEGATE_OBJECTIONS__TOKEN": token} if token else {}
    return run_cli("objections", *args, env={**env, **extra})
