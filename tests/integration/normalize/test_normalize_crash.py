"""Fault tests: the normalize service (subprocess, PostgreSQL registry) killed with SIGKILL mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from contracts.record import DatasetRecord, record_id_for
from contracts.topics import data_topic, dlq_topic, raw_topic
from processors.dead_letters import read_letters, replay_letters
from processors.registry import upsert_devices
from runtime.kafka_client import config_for
from tests.fixtures.normalize import chirpstack_up, soil_lpp
from tests.fixtures.services import StackAddresses
from tests.integration.normalize.kit import DEVICES, FLEET, drain, envelope, produce

ROOT = Path(__file__).resolve().parents[3]
N = 1000


def _start(stack: StackAddresses, prefix: str, schema: str, group: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "SENSEGATE_KAFKA__TOPIC_PREFIX": prefix,
        "SENSEGATE_DB__DSN": stack.pg_dsn,
        "SENSEGATE_DB__SCHEMA_NAME": schema,
        "SENSEGATE_RUNNER__MAX_BATCH": "10",
        "SENSEGATE_REBIRTH": "false",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "processors",
            "--log-level",
            "WARNING",
            "normalize",
            "--families",
            "agri",
            "--group",
            group,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.fault
async def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    prefix, schema, group = unique_name("sg") + ".", unique_name("reg"), unique_name("g")
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn, autocommit=True) as conn:
        await upsert_devices(conn, [d for d in DEVICES if d.family == "agri"], schema=schema)
    try:
        items = []
        expected = set()
        for i in range(N):
            eui = FLEET[i % len(FLEET)]
            dedup = f"00000000-0000-4000-8000-{i:012d}"
            up = chirpstack_up(eui, soil_lpp(moisture=float(i % 90)), f_cnt=i, dedup_id=dedup)
            items.append((raw_topic(prefix, "agri"), envelope(up, family="agri", device_id=eui)))
            expected.add(record_id_for("agri_soil", f"{eui}|cs|{dedup}"))
        await produce(stack.kafka_bootstrap, items)
        proc = _start(stack, prefix, schema, group)
        try:
            # wait until the first records appear, then kill without warning
            before = await drain(
                stack.kafka_bootstrap,
                data_topic(prefix, "agri_soil"),
                at_least=1,
                deadline_s=60,
                settle=False,
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        restarted = _start(stack, prefix, schema, group)
        try:
            out = await drain(
                stack.kafka_bootstrap, data_topic(prefix, "agri_soil"), at_least=N, deadline_s=120
            )
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(timeout=30)
        ids = [DatasetRecord.from_kafka_value(m.value).record_id for m in out]
        assert set(ids) == expected  # nothing lost, nothing unexpected
        assert (
            len(ids) >= N
        )  # redelivered duplicates are allowed on the topic, removed by record_id
        assert len(before) < N  # the kill really happened mid-stream
        assert restarted.returncode in (0, -signal.SIGTERM)
    finally:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


async def test_dlq_replay_after_fix(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    """An undecodable payload is dead-lettered; replay re-produces its original raw envelope."""
    from tests.integration.normalize.kit import make_processor, running

    prefix, boot = unique_name("sg") + ".", stack.kafka_bootstrap
    kafka = config_for(boot, topic_prefix=prefix)
    up = chirpstack_up(FLEET[0], b"\x01\x67\x00\x7d")  # temperature only, soil channel 1
    await produce(
        boot,
        [
            (raw_topic(prefix, "agri"), envelope(b"{broken", family="agri", device_id=FLEET[0])),
            (raw_topic(prefix, "agri"), envelope(up, family="agri", device_id=FLEET[0])),
        ],
    )
    async with running(boot, prefix, unique_name("g"), make_processor()):
        await drain(boot, data_topic(prefix, "agri_soil"), at_least=1)
        await drain(boot, dlq_topic(prefix), at_least=1)
    letters, _ = await read_letters(kafka, dlq_topic(prefix))
    assert [s.letter.reason.value for s in letters] == ["decode_error"]
    replayed, skipped = await replay_letters(
        kafka, dlq_topic(prefix), group_id=unique_name("replay")
    )
    assert (replayed, skipped) == (1, 0)
    raw = await drain(boot, raw_topic(prefix, "agri"), at_least=3)
    assert raw[-1].value == b"{broken" or any(m.value == b"{broken" for m in raw[2:])
    again, _ = await replay_letters(kafka, dlq_topic(prefix), group_id=unique_name("replay2"))
    assert again == 1  # a new group starts from the beginning; the same group would not repeat
