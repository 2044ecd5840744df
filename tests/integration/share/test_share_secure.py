"""Sharing processor on a Kafka with SCRAM + StandardAuthorizer: what reaches share and open topics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from contracts.record import DatasetRecord
from contracts.settings import KafkaConfig
from processors.share.config import ShareKeys, ShareSettings
from processors.share.deidentify import grid_cell
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.principals import SERVICES, service_acls
from processors.share.rules import OpenRecord
from processors.share.service import run_share
from tests.fixtures.secure_kafka import ADMIN_USER, SecureKafka
from tests.fixtures.share_data import now_minute, participant_records, share_catalog, simple_record
from tests.integration.share.helpers import produce, read_all

PASSWORD = "service-password-for-tests"  # noqa: S105 - private test broker only


def _as(
    kafka: SecureKafka, prefix: str, user: str = ADMIN_USER, password: str | None = None
) -> KafkaConfig:
    return kafka.config(user, password).model_copy(update={"topic_prefix": prefix})


async def _topics(config: KafkaConfig) -> list[str]:
    admin = AIOKafkaAdminClient(**config.client_kwargs())
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def test_open_topics_hold_no_identifier_fine_location_or_small_cell(
    secure_kafka: SecureKafka, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("sg") + "."
    admin_cfg = _as(secure_kafka, prefix)
    async with KafkaSecurityAdmin(admin_cfg) as admin:
        for service in ("normalizer", "share"):
            await admin.upsert_scram_user(SERVICES[service][0], PASSWORD)
            await admin.create_acls(service_acls(service, prefix, ["v2x_participant_flow"]))
    catalog = share_catalog()
    start = now_minute()
    participants = participant_records(start, vehicles=30, steps=20)
    soil = [
        simple_record(
            "agri_soil",
            {"soil_moisture": 20.0 + i, "battery": 3.6, "f_cnt": i},
            when=start,
            entity=f"a84041000181c0{i:02x}",
            location=(43.8123456 + i * 1e-4, 125.2987654),
        )
        for i in range(20)
    ]
    iiot = [
        simple_record(
            "iiot_metric",
            {
                "edge_node": "plant7/line1",
                "metric": "temp",
                "datatype": "Double",
                "value_double": 1.0 * i,
            },
            when=start,
            entity="plant7/line1",
        )
        for i in range(10)
    ]
    normalizer = _as(secure_kafka, prefix, "sensegate-normalizer", PASSWORD)
    for dataset, rows in (
        ("v2x_participant", participants),
        ("agri_soil", soil),
        ("iiot_metric", iiot),
    ):
        await produce(
            normalizer,
            f"{prefix}data.{dataset}",
            [(r.kafka_key(), r.to_kafka_value()) for r in rows],
        )

    settings = ShareSettings(
        kafka=_as(secure_kafka, prefix, "sensegate-share", PASSWORD),
        share_keys=ShareKeys(masters={"t": SecretStr("t" * 32)}, active_id="t"),
        share_group_id=f"sensegate-share-{prefix}",
        share_max_delay_s=10**8,
    )
    stats = await asyncio.wait_for(run_share(settings, catalog, idle_exit_s=3), 120)
    assert stats.blocked == 0 and stats.suppressed >= 1

    topics = await _topics(admin_cfg)
    share_topics = sorted(t for t in topics if t.startswith(f"{prefix}share."))
    open_topics = sorted(t for t in topics if t.startswith(f"{prefix}open."))
    assert f"{prefix}share.iiot_metric" not in topics
    assert f"{prefix}open.v2x_participant" not in topics
    assert f"{prefix}open.v2x_participant_flow" in open_topics

    # no record of a non-shared dataset on any share topic
    for topic in share_topics:
        for value in await read_all(admin_cfg, topic):
            doc = json.loads(value)
            assert (
                doc.get("dataset") != "iiot_metric" and doc.get("source_dataset") != "iiot_metric"
            )
    shared = await read_all(admin_cfg, f"{prefix}share.v2x_participant")
    assert len(shared) == len(participants)

    # scan of every open topic: identifiers, location precision, k
    clear = {str(r.values["ptc_id"]) for r in participants} | {
        r.entity_id for r in soil + participants
    }
    clear |= {r.natural_key for r in soil + participants} | {"RSU-CC-0001"}
    released = 0
    for topic in open_topics:
        entry = catalog.get(topic.removeprefix(f"{prefix}open."))
        assert entry is not None and entry.open_class != "none"
        profile = entry.deidentification
        for value in await read_all(admin_cfg, topic):
            text = value.decode()
            assert not any(c in text for c in clear), f"identifier on {topic}"
            rec = OpenRecord.model_validate_json(value)
            assert (
                rec.rule_set.startswith(f"{entry.code}.deid.") and rec.rule_version == entry.version
            )
            if profile.location_cell_m:
                assert rec.cell is not None and rec.cell.size_m >= profile.location_cell_m
                assert grid_cell(rec.cell.lat, rec.cell.lon, rec.cell.size_m).cell_id == rec.cell.id
                for name in ("lat", "lon"):
                    assert rec.values.get(name) in (None, getattr(rec.cell, name))
            if profile.time_bucket_s:
                assert rec.period_s >= profile.time_bucket_s
                assert rec.period_start.timestamp() % profile.time_bucket_s == 0
            if profile.k_anonymity:
                assert isinstance(rec.values["entities"], int)
                assert rec.values["entities"] >= profile.k_anonymity
            released += 1
    assert released > 0

    # the derived entry's data tier (what the sink stores in its table): the released cells only
    opened_flow = await read_all(admin_cfg, f"{prefix}open.v2x_participant_flow")
    stored_flow = [
        DatasetRecord.from_kafka_value(v)
        for v in await read_all(admin_cfg, f"{prefix}data.v2x_participant_flow")
    ]
    assert sorted(r.record_id for r in stored_flow) == sorted(
        OpenRecord.model_validate_json(v).record_id for v in opened_flow
    )
    assert all(int(str(r.values["entities"])) >= 10 for r in stored_flow) and stored_flow
