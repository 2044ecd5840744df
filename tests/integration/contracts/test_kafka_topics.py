"""Services create the pipeline topics they need at start; a second call creates nothing."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient

from runtime.kafka_client import client_kwargs, config_for
from runtime.topic_admin import ensure_topics, pipeline_topics
from tests.fixtures.services import StackAddresses


async def test_ensure_topics_creates_missing_once(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("kt") + "."
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=prefix)
    wanted = pipeline_topics(prefix, ["agri_soil", "agri_weather"])
    assert f"{prefix}data.agri_soil" in wanted and f"{prefix}raw.v2x" in wanted
    created = await ensure_topics(kafka, wanted, partitions=2)
    assert sorted(created) == sorted(wanted)
    assert await ensure_topics(kafka, wanted) == []
    admin = AIOKafkaAdminClient(**client_kwargs(stack.kafka_bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics(wanted)
        assert all(len(t["partitions"]) == 2 for t in described)
        await admin.delete_topics(wanted)
    finally:
        await admin.close()
