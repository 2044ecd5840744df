"""Catalog registrations: each instance announces its entries to the province on one topic.

A registration is the entry's DCAT-AP dataset node (JSON-LD) plus the sensegate fields the
province needs to merge catalogs and to apply the one-source rule: the instance code and region,
the provider, the classes and share scope, the items' semantic keys and the upstream topic names.
Keyed by dataset code, so the newest registration of an entry supersedes the older ones.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.settings import KafkaConfig
from processors.catalog.dcat import export_dcat
from processors.catalog.loader import Catalog
from processors.federation.allowlist import share_reaches_province
from processors.federation.config import REGISTRATION_TOPIC, FederationConfig

__all__ = ["FORMAT", "publish_registrations", "registration_records"]

FORMAT = "sensegate-registration/1"


def registration_records(
    catalog: Catalog, fed: FederationConfig, prefix: str, public_key: str = ""
) -> list[dict[str, Any]]:
    """One registration document per catalog entry (retired entries say so, and stop sharing)."""
    graph = export_dcat(catalog, topic_prefix=prefix)["@graph"]
    nodes = {n.get("dct:identifier"): n for n in graph if "dcat:Dataset" in n.get("@type", ())}
    code = fed.instance_code
    records = []
    for entry in catalog:
        shared = share_reaches_province(entry, fed.province_scope)
        topics = {
            "share": f"{code}.{prefix}{entry.kafka_topics.share}" if shared else None,
            "open": (
                f"{code}.{prefix}{entry.kafka_topics.open}"
                if entry.open_class != "none" and entry.kafka_topics.open
                else None
            ),
        }
        records.append(
            {
                "format": FORMAT,
                "instance": code,
                "region": fed.region or code,
                "dataset": entry.code,
                "version": entry.version,
                "status": entry.status,
                "provider": entry.provider,
                "provider_name": entry.provider_name,
                "share_class": entry.share_class,
                "share_scope": list(entry.share_terms.scope) if entry.share_terms else [],
                "open_class": entry.open_class,
                "derived": bool(entry.inputs),
                "items": [{"name": i.name, "concept": entry.concept_of(i)} for i in entry.items],
                "upstream_topics": topics,
                "checkpoint_public_key": public_key,
                "dcat": nodes.get(entry.code, {}),
            }
        )
    return records


async def publish_registrations(kafka: KafkaConfig, records: list[dict[str, Any]]) -> int:
    """Produce the registrations (key: dataset code) and wait for every acknowledgement."""
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka.client_kwargs())
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{kafka.topic_prefix}{REGISTRATION_TOPIC}",
                json.dumps(r, sort_keys=True, ensure_ascii=False).encode(),
                key=r["dataset"].encode(),
            )
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)
