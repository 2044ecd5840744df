"""A Sparkplug partition moving between two normalizers keeps its births (the chaos dead letters).

Both instances start before the edge node is born and share one birth-state directory, as the
chaos test and ``stack/services.sh`` run them. The first processes NBIRTH and NDATA, then leaves
the group; the second takes the partition over. Before the fix the second refused every NDATA as
``sparkplug_no_birth`` (it had loaded an empty store at its start) until the node was born again:
valid data in the dead letters. Real Kafka of the test stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from contracts.dead_letter import DeadLetter
from contracts.envelope import Envelope
from contracts.record import DatasetRecord
from contracts.topics import data_topic, dlq_topic, raw_topic
from processors.catalog import load_catalog
from processors.codecs.sparkplug import DataType, MetricSpec, birth_payload, encode_payload
from processors.normalize.dedup import RecentKeys
from processors.normalize.mapper_table import MapperConfig
from processors.normalize.mappers.iiot import IiotMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.registry import DeviceRegistry
from tests.fixtures.services import StackAddresses
from tests.integration.normalize.kit import DEVICES, NODE, drain, produce, running

GROUP, EDGE = NODE.split("/")


def _processor(state: Path) -> NormalizeProcessor:
    return NormalizeProcessor(
        catalog=load_catalog(),
        registry=DeviceRegistry(DEVICES),
        mappers={"iiot": IiotMapper(MapperConfig(sparkplug_state_dir=state))},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("integration-key-0001")}, "k1"),
        dedup=RecentKeys(1000),
    )


def _env(kind: str, payload: bytes) -> Envelope:
    return Envelope(
        payload=payload, topic=f"spBv1.0/{GROUP}/{kind}/{EDGE}", family="iiot", device_id=NODE,
        received_ns=time.time_ns(), gateway_id="gw-it",
    )  # fmt: skip


def _ndata(seq: int, t0: int) -> Envelope:
    spec = MetricSpec(alias=1, value=60.0 + seq, datatype=DataType.DOUBLE, include_datatype=False)
    return _env("NDATA", encode_payload([spec], seq=seq, timestamp=t0 + seq))


async def test_partition_handover_keeps_births(
    stack: StackAddresses, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    """NDATA after the hand-over is stored with names; no ``sparkplug_no_birth`` dead letter."""
    boot, prefix, group = stack.kafka_bootstrap, unique_name("sg") + ".", unique_name("g")
    topic = raw_topic(prefix, "iiot")
    first, second = _processor(tmp_path), _processor(tmp_path)  # both load an empty store
    t0 = int(time.time() * 1000)
    spec = MetricSpec(name="Oil/Temp", alias=1, datatype=DataType.DOUBLE, value=60.0)
    birth = _env("NBIRTH", birth_payload([spec], bd_seq=1, seq=0, timestamp=t0))
    await produce(boot, [(topic, birth), (topic, _ndata(1, t0))])
    async with running(boot, prefix, group, first):
        await drain(boot, data_topic(prefix, "iiot_metric"), at_least=2, deadline_s=60)
    async with running(boot, prefix, group, second):
        await produce(boot, [(topic, _ndata(s, t0)) for s in range(2, 6)])
        stored = await drain(boot, data_topic(prefix, "iiot_metric"), at_least=6, deadline_s=60)
    dead = await drain(boot, dlq_topic(prefix), at_least=0, deadline_s=3)
    reasons = [DeadLetter.from_json(m.value).reason.value for m in dead]
    records = [DatasetRecord.from_kafka_value(m.value) for m in stored]
    print(f"handover: {len(records)} records, dead letters {reasons}")
    assert reasons == []
    assert {r.values["seq"] for r in records} == {0, 1, 2, 3, 4, 5}
    assert {r.values["metric"] for r in records} == {"Oil/Temp"}
