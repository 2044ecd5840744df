"""C15 on a real Kafka: a road event inside a sensitive area stays on the data topic, never reaches share/open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from pydantic import SecretStr

from processors.share.config import ShareKeys, ShareSettings
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.principals import SERVICES, service_acls
from processors.share.rules import OpenRecord
from processors.share.service import run_share
from tests.fixtures.secure_kafka import SecureKafka
from tests.fixtures.share_data import now_minute, share_catalog, simple_record
from tests.integration.share.helpers import produce, read_all

PASSWORD = "service-password-for-tests"  # noqa: S105 - private test broker only
INSIDE = (43.8812, 125.3264)  # inside cc-demo-site-1 of catalog/geofences/
OUTSIDE = (43.8812345, 125.3154321)


async def test_point_inside_geofence_absent_from_open_and_share_present_in_data(
    secure_kafka: SecureKafka, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("sg") + "."
    admin_cfg = secure_kafka.config().model_copy(update={"topic_prefix": prefix})
    async with KafkaSecurityAdmin(admin_cfg) as admin:
        for service in ("normalizer", "share"):
            await admin.upsert_scram_user(SERVICES[service][0], PASSWORD)
            await admin.create_acls(service_acls(service, prefix, ["v2x_participant_flow"]))
    catalog = share_catalog()
    assert [a.id for a in catalog.geofences] == ["cc-demo-site-1"]
    start = now_minute()
    events = [
        simple_record(
            "v2x_road_event",
            {"rsu_id": rsu, "kind": "event", "event_type": 100, "lat": where[0], "lon": where[1]},
            when=start,
            entity=rsu,
            location=where,
        )
        for rsu, where in (("RSU00002", INSIDE), ("RSU00001", OUTSIDE))
    ]
    normalizer = secure_kafka.config(SERVICES["normalizer"][0], PASSWORD).model_copy(
        update={"topic_prefix": prefix}
    )
    data_topic = f"{prefix}data.v2x_road_event"
    await produce(normalizer, data_topic, [(r.kafka_key(), r.to_kafka_value()) for r in events])
    settings = ShareSettings(
        kafka=secure_kafka.config(SERVICES["share"][0], PASSWORD).model_copy(
            update={"topic_prefix": prefix}
        ),
        share_keys=ShareKeys(masters={"t": SecretStr("t" * 32)}, active_id="t"),
        share_group_id=f"sensegate-share-{prefix}",
    )
    stats = await asyncio.wait_for(run_share(settings, catalog, idle_exit_s=3), 120)
    assert stats.fenced == {
        "cc-demo-site-1:share:v2x_road_event": 1,
        "cc-demo-site-1:open:v2x_road_event": 1,
    }
    data = [json.loads(v)["entity_id"] for v in await read_all(admin_cfg, data_topic)]
    assert sorted(data) == ["RSU00001", "RSU00002"]  # the internal topic keeps both
    shared = [json.loads(v) for v in await read_all(admin_cfg, f"{prefix}share.v2x_road_event")]
    assert [s["values"]["rsu_id"] for s in shared] == ["RSU00001"]
    opened = [
        OpenRecord.model_validate_json(v)
        for v in await read_all(admin_cfg, f"{prefix}open.v2x_road_event")
    ]
    assert [(o.values["lat"], o.values["lon"]) for o in opened] == [OUTSIDE]
