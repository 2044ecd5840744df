"""Helpers for normalize integration tests: produce raw envelopes, drain topics, run a runner."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from contracts.envelope import Envelope
from processors.catalog import load_catalog
from processors.normalize.dedup import RecentKeys
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.mappers.iiot import IiotMapper
from processors.normalize.mappers.v2x import V2xMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from processors.normalize.runner import NormalizeRunner, RunnerConfig
from processors.registry import Device, DeviceRegistry
from runtime.kafka_client import client_kwargs, config_for
from tests.fixtures.normalize import device_topic

RSU = "JL-IT-0001"
EUI = "a1b2c3d4e5f60718"
NODE = "PlantIT/press-01"
OTHER_PROVIDER = "b1b2c3d4e5f60718"
FLEET = tuple(f"c0c0c0c0c0c0c0{i:02x}" for i in range(8))
DEVICES = (
    Device(
        family="v2x",
        device_id=RSU,
        provider="jl_traffic_police",
        datasets=("v2x_participant", "v2x_signal_phase"),
        lat=43.8812,
        lon=125.3154,
    ),
    Device(
        family="agri",
        device_id=EUI,
        provider="jl_agri_bureau",
        datasets=("agri_soil",),
        profile="sim-soil-a-lpp",
    ),
    # registered, but its provider is not the dataset's: one-source rule
    Device(
        family="agri",
        device_id=OTHER_PROVIDER,
        provider="jl_industry_dept",
        datasets=("agri_soil",),
        profile="sim-soil-a-lpp",
    ),
    *(
        Device(
            family="agri",
            device_id=eui,
            provider="jl_agri_bureau",
            datasets=("agri_soil",),
            profile="sim-soil-a-lpp",
        )
        for eui in FLEET
    ),
    Device(family="iiot", device_id=NODE, provider="jl_industry_dept", datasets=("iiot_metric",)),
)


def envelope(
    payload: bytes,
    *,
    family: str,
    device_id: str,
    topic: str | None = None,
    received_ns: int | None = None,
) -> Envelope:
    """An envelope as the gateway would write it."""
    return Envelope(
        payload=payload,
        topic=topic or device_topic(family, device_id),
        family=family,
        device_id=device_id,
        received_ns=received_ns or time.time_ns(),
        gateway_id="gw-it",
    )


async def produce(
    bootstrap: str, items: Sequence[tuple[str, Envelope | tuple[bytes, list[tuple[str, bytes]]]]]
) -> None:
    """Produce envelopes (or raw value+headers pairs) to the given topics and wait for acks."""
    producer = AIOKafkaProducer(**client_kwargs(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, item in items:
            if isinstance(item, Envelope):
                await producer.send_and_wait(
                    topic, item.payload, key=item.kafka_key(), headers=item.kafka_headers()
                )
            else:
                await producer.send_and_wait(topic, item[0], key=b"x", headers=item[1])
    finally:
        await producer.stop()


async def drain(
    bootstrap: str, topic: str, *, at_least: int, deadline_s: float = 60.0, settle: bool = True
) -> list[Any]:
    """Records of ``topic`` from the beginning: at least ``at_least`` (or what came by the deadline).

    With ``settle`` it keeps reading until a poll returns nothing, so late duplicates are included.
    """
    consumer = AIOKafkaConsumer(
        **client_kwargs(bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        metadata_max_age_ms=1000,  # notice the topic soon after the stage creates it
    )
    await consumer.start()
    consumer.subscribe([topic])
    out: list[Any] = []
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                out.extend(msgs)
            if len(out) >= at_least and (not batch or not settle):
                break
    finally:
        await consumer.stop()
    return out


def make_processor(
    *, keys: dict[str, str] | None = None, active: str = "k1", quality: QualityConfig | None = None
) -> NormalizeProcessor:
    """A processor over the real catalog and the test devices."""
    secrets = {k: SecretStr(v) for k, v in (keys or {"k1": "integration-key-0001"}).items()}
    return NormalizeProcessor(
        catalog=load_catalog(),
        registry=DeviceRegistry(DEVICES),
        mappers={"v2x": V2xMapper(), "agri": AgriMapper(), "iiot": IiotMapper()},
        pseudonymizer=Pseudonymizer(secrets, active),
        quality=quality,
        dedup=RecentKeys(10_000),
    )


@contextlib.asynccontextmanager
async def running(
    bootstrap: str, prefix: str, group: str, processor: NormalizeProcessor | None = None
) -> AsyncIterator[NormalizeRunner]:
    """A NormalizeRunner consuming in the background until the block ends."""
    kafka = config_for(bootstrap, topic_prefix=prefix)
    runner = NormalizeRunner(
        kafka=kafka,
        config=RunnerConfig(group_id=group, poll_timeout_ms=200),
        processor=processor or make_processor(),
    )
    stop = asyncio.Event()
    async with runner:
        task = asyncio.create_task(runner.run(stop))
        try:
            yield runner
        finally:
            stop.set()
            await task
