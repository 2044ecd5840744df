"""Upstream replication through a real MirrorMaker 2 between two real KRaft clusters.

Checks what docs/federation.md claims: allowed share topics arrive exactly as produced (headers
included) in per-key order; raw, data, quarantine, dead-letter topics and share topics whose scope
excludes the province never do; the replication principals are confined on both sides.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict

import pytest
from aiokafka.errors import KafkaError

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from tests.fixtures.secure_kafka import SecureKafka
from tests.integration.federation.helpers import (
    Instance,
    ids,
    ids_from,
    produce,
    read_until,
    share_rows,
    topics_of,
)

N = 300


def _upstream_cfg(province: SecureKafka, instance: Instance) -> KafkaConfig:
    password = instance.fed.upstream_password
    assert password is not None
    return province.config(instance.fed.upstream_username, password.get_secret_value())


async def test_allowed_share_arrives_exactly_and_forbidden_topics_never(
    replicating: Instance, province: SecureKafka
) -> None:
    inst, p = replicating, replicating.prefix
    run = uuid.uuid4().hex[:8]
    forbidden = [
        f"{p}raw.lorawan",
        f"{p}data.agri_soil",
        f"{p}quarantine",
        f"{p}dlq",
        f"{p}share.v2x_participant",  # conditional, scope without the province
    ]
    # Forbidden records first: by the time the allowed ones arrive, MirrorMaker had every chance.
    for topic in forbidden:
        await produce(inst.admin, topic, share_rows(f"{run}-forbidden", 20))
    sent = share_rows(run, N)
    await produce(inst.admin, f"{p}share.agri_soil", sent)
    admin = province.config()
    up = inst.upstream(f"{p}share.agri_soil")
    got = await read_until(admin, up, lambda rs: len(set(ids(rs)) & set(ids_from(sent))) >= N)
    assert len(set(ids(got))) >= N, inst.mirror.log_tail()
    # exactly as produced: key, value and every header
    produced = {json.loads(v)["record_id"]: (k, v, h) for k, v, h in sent}
    for record in got:
        key, value, headers = produced[json.loads(record.value)["record_id"]]
        assert record.key == key
        assert record.value == value
        assert tuple(record.headers) == headers
    # per-key order: each series' sequence numbers arrive in the order they were produced
    per_key: dict[bytes, list[int]] = defaultdict(list)
    for record in got:
        per_key[record.key].append(json.loads(record.value)["seq"])
    for key, seqs in per_key.items():
        deduped = list(dict.fromkeys(seqs))
        assert deduped == sorted(deduped), f"order broken for {key!r}"
    await asyncio.sleep(12)  # more than one topic refresh of MirrorMaker (10 s)
    upstream = await topics_of(admin)
    leaked = sorted(upstream & {inst.upstream(f) for f in forbidden})
    assert leaked == []
    assert not any(
        t.startswith(f"{inst.code}.{p}raw.") or t.startswith(f"{inst.code}.{p}data.")
        for t in upstream
    )
    # registrations published by configure went up with the share tier
    regs = await read_until(
        admin, inst.upstream(f"{p}catalog.registrations"), lambda rs: len(rs) >= len(load_catalog())
    )
    assert {json.loads(r.value)["dataset"] for r in regs} >= {"agri_soil", "iiot_metric"}


async def test_replication_principal_cannot_read_forbidden_topics(
    replicating: Instance, stack: object
) -> None:
    inst = replicating
    repl = inst.replication_login()
    visible = await topics_of(repl)
    assert f"{inst.prefix}share.agri_soil" in visible
    assert not any(t.startswith((f"{inst.prefix}data.", f"{inst.prefix}raw.")) for t in visible)
    assert f"{inst.prefix}dlq" not in visible
    with pytest.raises(KafkaError):
        await produce(repl, f"{inst.prefix}share.agri_soil", share_rows("w", 1))


async def test_instance_principal_is_confined_to_its_prefix_upstream(
    replicating: Instance, province: SecureKafka
) -> None:
    inst = replicating
    me = _upstream_cfg(province, inst)
    # a compromised instance cannot write into another instance's topics at the province
    other = "city_other.sensegate.share.agri_soil"
    with pytest.raises(KafkaError):
        await produce(me, other, share_rows("intruder", 1))
    await produce(province.config(), f"city_other.{inst.prefix}x", share_rows("admin", 1))
    assert not any(t.startswith("city_other.") for t in await topics_of(me))
