"""Normalize-stage benchmark: CPU per message and records/s per family, and the latency the stage adds.

Rates come from in-process batches after one warm-up batch (compiled specifications, validators);
CPU per message is the process's CPU time (``time.process_time``), which other load on shared cores
does not inflate the way it inflates wall time. Latency comes from the real Kafka (raw append ->
data append). ``v2x`` is the CSAE JSON rendering, ``v2x-uper`` the same RSM as UPER.

Run: ``.venv/bin/python -m benchmarks.normalize_rate [--messages N] [--batch B] [--no-kafka]``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid

from pydantic import SecretStr

from contracts.envelope import Envelope, KafkaCoordinates, RawRecord
from contracts.families import FAMILY_NAMES
from processors.catalog import load_catalog
from processors.codecs.sparkplug import DataType, MetricSpec, birth_payload, encode_payload
from processors.codecs.v2x import DEFAULT_EDITION, encode_frame
from processors.codecs.v2x.compiled import decoder_name
from processors.normalize.dedup import RecentKeys
from processors.normalize.mapper_table import MapperConfig, build_mappers
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.registry import Device, DeviceRegistry
from runtime.kafka_client import client_kwargs, config_for
from tests.fixtures.normalize import chirpstack_up, csae_rsm_json, soil_lpp

RSU, EUI, NODE = "JL-BM-0001", "a1b2c3d4e5f60718", "PlantBM/press-01"


def _processor() -> NormalizeProcessor:
    devices = [
        Device(
            family="v2x", device_id=RSU, provider="jl_traffic_police", datasets=("v2x_participant",)
        ),
        Device(
            family="agri",
            device_id=EUI,
            provider="jl_agri_bureau",
            datasets=("agri_soil",),
            codec="chirpstack_lpp",
            profile="sim-soil-a-lpp",  # agri devices decode through their bound profile
        ),
        Device(
            family="iiot", device_id=NODE, provider="jl_industry_dept", datasets=("iiot_metric",)
        ),
    ]
    return NormalizeProcessor(
        catalog=load_catalog(),
        registry=DeviceRegistry(devices),
        mappers=build_mappers(FAMILY_NAMES, MapperConfig()),
        pseudonymizer=Pseudonymizer({"k": SecretStr(secrets.token_urlsafe(24))}, "k"),
        dedup=RecentKeys(1_000_000),
    )


def _raw(payload: bytes, family: str, device: str, topic: str, offset: int) -> RawRecord:
    env = Envelope(
        payload=payload,
        topic=topic,
        family=family,
        device_id=device,
        received_ns=time.time_ns(),
        gateway_id="bench",
    )
    return RawRecord(env, KafkaCoordinates(f"sensegate.raw.{family}", 0, offset))


def _uper_rsm(i: int) -> bytes:
    """The ``i``-th RSM with 10 participants as UPER (distinct payloads: no duplicates)."""
    participants = [
        {
            "ptcType": "motor", "ptcId": (10 * i + k) % 65536, "source": "lidar",
            "secMark": (int(time.time() * 1000) - 100 * k) % 60000,  # just now: never "future"
            "pos": {"offsetLL": ("position-LL3", {"lon": 100 * k, "lat": -50 * k})},
            "posConfidence": {"pos": "a1m"}, "speed": 500 + k, "heading": 7200,
            "size": {"width": 180, "length": 450},
        }
        for k in range(10)
    ]  # fmt: skip
    rsm = {"msgCnt": i % 128, "id": RSU.encode()[:8], "participants": participants,
           "refPos": {"lat": 438812345, "long": 1253154321}}  # fmt: skip
    return encode_frame({"rsmFrame": rsm})


def inputs(family: str, n: int) -> list[RawRecord]:
    """N raw records of one family (V2X: RSM with 10 participants; IIoT: NDATA with 20 metrics)."""
    if family == "v2x-uper":
        return [_raw(_uper_rsm(i), "v2x", RSU, f"V2X/RSU/{RSU}/RSM/UP", i) for i in range(n)]
    if family == "v2x":
        return [
            _raw(
                csae_rsm_json(RSU, list(range(100, 110)), msg_cnt=i % 128),
                "v2x",
                RSU,
                f"V2X/RSU/{RSU}/RSM/UP",
                i,
            )
            for i in range(n)
        ]
    if family == "agri":
        return [
            _raw(
                chirpstack_up(EUI, soil_lpp(moisture=float(i % 90)), f_cnt=i),
                "agri",
                EUI,
                f"application/a/device/{EUI}/event/up",
                i,
            )
            for i in range(n)
        ]
    now = int(time.time() * 1000)
    specs = [
        MetricSpec(name=f"m{j}", alias=j, value=float(j), datatype=DataType.DOUBLE)
        for j in range(20)
    ]
    out = [
        _raw(
            birth_payload(specs, bd_seq=0, seq=0, timestamp=now),
            "iiot",
            NODE,
            "spBv1.0/PlantBM/NBIRTH/press-01",
            0,
        )
    ]
    for i in range(1, n):
        data = encode_payload(
            [MetricSpec(alias=j, value=float(i + j), datatype=DataType.DOUBLE) for j in range(20)],
            seq=i % 256,
            timestamp=now + i,
        )
        out.append(_raw(data, "iiot", NODE, "spBv1.0/PlantBM/NDATA/press-01", i))
    return out


def rate(family: str, n: int, batch: int) -> tuple[float, float, int, float]:
    """(messages/s, records/s, dead letters, CPU ms per message) over in-process batches.

    Counts what the stage does per batch except Kafka I/O: decode, govern, validate, build and
    serialize the records.
    """
    proc = _processor()
    raws = inputs(family, n + batch)
    proc.process(raws[:batch])  # warm-up: compile the specification, build the validators
    raws = raws[batch:]
    records = dead = 0
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, n, batch):
        result = proc.process(raws[i : i + batch])
        for record in result.records:  # the runner's serialization belongs to the stage's cost
            record.to_kafka_value()
        records += len(result.records)
        dead += len(result.dead_letters)
    elapsed = time.perf_counter() - start
    cpu_ms = (time.process_time() - cpu) * 1000 / n
    return n / elapsed, records / elapsed, dead, cpu_ms


async def kafka_latency(bootstrap: str, n: int) -> list[float]:
    """Per-message latency added by the stage: raw record appended -> data record appended (ms)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from processors.normalize.runner import NormalizeRunner, RunnerConfig

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    kafka = config_for(bootstrap, topic_prefix=prefix)
    producer = AIOKafkaProducer(
        **client_kwargs(bootstrap), acks="all", enable_idempotence=True, linger_ms=0
    )
    await producer.start()
    await producer.send_and_wait(f"{prefix}raw.agri", b"warm-up", headers=[("sg.v", b"0")])
    runner = NormalizeRunner(
        kafka=kafka,
        config=RunnerConfig(group_id=prefix + "g", poll_timeout_ms=50, families=("agri",)),
        processor=_processor(),
    )
    consumer = AIOKafkaConsumer(
        f"{prefix}data.agri_soil",
        **client_kwargs(bootstrap),
        auto_offset_reset="earliest",
        metadata_max_age_ms=500,
    )
    stop = asyncio.Event()
    latencies: list[float] = []
    async with runner:
        task = asyncio.create_task(runner.run(stop))
        await consumer.start()
        try:
            for i in range(n):
                raw = inputs("agri", 1)[0].envelope
                env = Envelope(
                    payload=chirpstack_up(EUI, soil_lpp(float(i % 90)), f_cnt=i),
                    topic=raw.topic,
                    family="agri",
                    device_id=EUI,
                    received_ns=time.time_ns(),
                    gateway_id="bench",
                )
                meta = await producer.send_and_wait(
                    f"{prefix}raw.agri",
                    env.payload,
                    key=env.kafka_key(),
                    headers=env.kafka_headers(),
                )
                msg = await asyncio.wait_for(consumer.getone(), 30)
                latencies.append(msg.timestamp - meta.timestamp)
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await task
            await consumer.stop()
            await producer.stop()
    return latencies


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--latency-messages", type=int, default=200)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--no-kafka", action="store_true")
    args = parser.parse_args()
    print(
        f"in-process normalize, batch {args.batch}, {args.messages} messages per family, one core;"
        f" V2X UPER decoder: {decoder_name(DEFAULT_EDITION)}"
    )
    for family in ("v2x", "v2x-uper", "agri", "iiot"):
        msgs, recs, dead, cpu_ms = rate(family, args.messages, args.batch)
        print(
            f"  {family:8s} {cpu_ms:7.3f} ms CPU/msg  {msgs:9.0f} msg/s  {recs:9.0f} records/s"
            f"  (dead letters: {dead})"
        )
    if args.no_kafka:
        return
    lat = asyncio.run(kafka_latency(args.bootstrap, args.latency_messages))
    q = statistics.quantiles(lat, n=100)
    print(
        f"stage latency through Kafka (raw append -> data append), {len(lat)} messages one at a time:"
    )
    print(f"  p50 {q[49]:.1f} ms  p99 {q[98]:.1f} ms  max {max(lat):.1f} ms")


if __name__ == "__main__":
    main()
