"""Create the pipeline's Kafka topics at service start, so consumers never wait for auto-creation.

A consumer that subscribes before its topics exist is assigned nothing until its next metadata
refresh (minutes by default), so every service makes sure the topics it reads and writes exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from contracts.families import FAMILY_NAMES
from contracts.settings import KafkaConfig
from contracts.topics import data_topic, dlq_topic, quarantine_topic, raw_topic

__all__ = ["ensure_topics", "pipeline_topics"]

logger = logging.getLogger(__name__)

# Kafka protocol error codes (CreateTopics response).
_TOPIC_AUTHORIZATION_FAILED = 29
_CLUSTER_AUTHORIZATION_FAILED = 31
_TOPIC_ALREADY_EXISTS = 36


def pipeline_topics(prefix: str, datasets: Iterable[str] = (), *, raw: bool = True) -> list[str]:
    """The DLQ, the data topic of each dataset and, with ``raw``, the raw and quarantine topics."""
    topics = ([raw_topic(prefix, f) for f in FAMILY_NAMES] + [quarantine_topic(prefix)]) if raw else []
    topics += [dlq_topic(prefix)]
    topics += [data_topic(prefix, d) for d in sorted(set(datasets))]
    return topics


async def ensure_topics(
    kafka: KafkaConfig,
    topics: Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; returns those created. Existing ones are left alone."""
    wanted = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        new = [NewTopic(t, partitions, replication_factor) for t in missing]
        try:
            response = await asyncio.wait_for(admin.create_topics(new), timeout_s)
        except TopicAlreadyExistsError:
            return []  # another service created them concurrently
        created: list[str] = []
        for topic, code, *_ in getattr(response, "topic_errors", []):
            if code == 0:
                created.append(topic)
            elif code == _TOPIC_ALREADY_EXISTS:
                continue
            elif code in (_TOPIC_AUTHORIZATION_FAILED, _CLUSTER_AUTHORIZATION_FAILED):
                # A least-privilege principal may not see or create topics it does not own; the
                # stack creates the pipeline's topics as operator, so carry on.
                logger.warning("not authorized to create topic %s; expecting it to exist", topic)
            else:
                msg = f"creating topic {topic} failed with Kafka error code {code}"
                raise KafkaError(msg)
        if created:
            logger.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()
