"""Normalize stage against the real Kafka: reason codes, duplicates, pseudonyms, scaling out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.envelope import Envelope
from contracts.record import DatasetRecord
from contracts.topics import data_topic, dlq_topic, quarantine_topic, raw_topic
from processors.codecs.sparkplug import DataType, MetricSpec, birth_payload, encode_payload
from tests.fixtures.normalize import chirpstack_up, csae_rsm_json, soil_lpp
from tests.fixtures.services import StackAddresses
from tests.integration.normalize.kit import (
    EUI,
    FLEET,
    NODE,
    OTHER_PROVIDER,
    RSU,
    drain,
    envelope,
    make_processor,
    produce,
    running,
)

PTC_IDS = (54321, 43210)
CLEAR_IDS = tuple(f"{RSU}:{p}" for p in PTC_IDS) + tuple(f'"{p}"' for p in PTC_IDS)


async def test_reason_codes_duplicates_and_no_clear_ids(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("sg") + "."
    boot = stack.kafka_bootstrap
    agri, v2x, iiot = (raw_topic(prefix, f) for f in ("agri", "v2x", "iiot"))
    good = envelope(
        chirpstack_up(EUI, soil_lpp(), dedup_id="11111111-0000-4000-8000-000000000001"),
        family="agri",
        device_id=EUI,
    )
    # MQTT redelivery: same bytes, later receive time, new Kafka offset
    redelivered = envelope(
        good.payload, family="agri", device_id=EUI, received_ns=good.received_ns + 10**9
    )
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    now_ms = int(time.time() * 1000)
    birth = birth_payload(
        [MetricSpec(name="Oil/Temp", alias=1, value=70.0, datatype=DataType.DOUBLE)],
        bd_seq=1,
        seq=0,
        timestamp=now_ms,
    )
    ndata = encode_payload(
        [MetricSpec(alias=1, value=70.5, datatype=DataType.DOUBLE)], seq=1, timestamp=now_ms + 1
    )
    spb = "spBv1.0/PlantIT/{}/press-01"
    items: list[tuple[str, Envelope | tuple[bytes, list[tuple[str, bytes]]]]] = [
        (agri, good),
        (agri, good),  # Kafka duplicate
        (agri, redelivered),
        (agri, envelope(b"{not json", family="agri", device_id=EUI)),
        (
            agri,
            envelope(
                chirpstack_up("0000000000000bad", soil_lpp()),
                family="agri",
                device_id="0000000000000bad",
            ),
        ),
        (
            agri,
            envelope(
                chirpstack_up(OTHER_PROVIDER, soil_lpp()), family="agri", device_id=OTHER_PROVIDER
            ),
        ),
        (
            agri,
            envelope(chirpstack_up(EUI, soil_lpp(), time_iso=future), family="agri", device_id=EUI),
        ),
        (
            agri,
            envelope(chirpstack_up(FLEET[0], soil_lpp()), family="agri", device_id=EUI),
        ),  # spoof
        (
            agri,
            envelope(
                chirpstack_up(EUI, soil_lpp(moisture=100.0, temperature=-45.0)),
                family="agri",
                device_id=EUI,
            ),
        ),
        (agri, (b"no headers", [])),
        (
            v2x,
            envelope(
                csae_rsm_json(RSU, list(PTC_IDS)),
                family="v2x",
                device_id=RSU,
                topic=f"V2X/RSU/{RSU}/RSM/UP",
            ),
        ),
        (iiot, envelope(ndata, family="iiot", device_id=NODE, topic=spb.format("NDATA"))),
        (iiot, envelope(birth, family="iiot", device_id=NODE, topic=spb.format("NBIRTH"))),
        (iiot, envelope(ndata, family="iiot", device_id=NODE, topic=spb.format("NDATA"))),
    ]
    await produce(boot, items)
    async with running(boot, prefix, unique_name("g")):
        letters = [
            DeadLetter.from_json(m.value) for m in await drain(boot, dlq_topic(prefix), at_least=7)
        ]
        quarantined = await drain(boot, quarantine_topic(prefix), at_least=1)
        soil = await drain(boot, data_topic(prefix, "agri_soil"), at_least=1)
        parts = await drain(boot, data_topic(prefix, "v2x_participant"), at_least=2)
        metrics = await drain(boot, data_topic(prefix, "iiot_metric"), at_least=2)
    reasons = sorted(d.reason.value for d in letters)
    assert reasons == sorted(
        [
            ReasonCode.DECODE_ERROR,
            ReasonCode.NOT_DATASET_PROVIDER,
            ReasonCode.FUTURE_TIMESTAMP,
            ReasonCode.IDENTITY_MISMATCH,
            ReasonCode.OUT_OF_RANGE,
            ReasonCode.ENVELOPE_INVALID,
            ReasonCode.SPARKPLUG_NO_BIRTH,
        ]
    )
    assert [DeadLetter.from_json(m.value).reason for m in quarantined] == [
        ReasonCode.UNKNOWN_DEVICE
    ]
    # three deliveries of one uplink -> one record on the data topic
    records = [DatasetRecord.from_kafka_value(m.value) for m in soil]
    assert len(records) == 1
    assert records[0].values["soil_moisture"] == 31.5
    assert records[0].provenance.kafka_topic == agri
    assert {m.key for m in soil} == {EUI.encode()}
    assert len(parts) == 2
    assert [DatasetRecord.from_kafka_value(m.value).values["metric"] for m in metrics] == [
        "Oil/Temp",
        "Oil/Temp",
    ]
    # scan: the participant ids sent never appear in clear on any data topic
    for msg in [*soil, *parts, *metrics]:
        blob = msg.value + (msg.key or b"") + b"".join(v for _, v in msg.headers)
        assert not any(ident.encode() in blob for ident in CLEAR_IDS)
    values = [json.loads(m.value)["values"] for m in parts]
    assert all(v not in PTC_IDS for doc in values for v in doc.values())
    assert len({doc["ptc_id"] for doc in values}) == 2


async def test_pseudonyms_stable_per_key_and_rotate(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    boot = stack.kafka_bootstrap
    keys = {"2025-05": "integration-key-may-0001", "2025-06": "integration-key-june-0001"}
    seen: dict[str, list[str]] = {}
    for run, active in enumerate(("2025-05", "2025-05", "2025-06")):
        prefix = unique_name(f"sg{run}") + "."
        env = envelope(csae_rsm_json(RSU, [54321]), family="v2x", device_id=RSU)
        await produce(boot, [(raw_topic(prefix, "v2x"), env)])
        async with running(
            boot, prefix, unique_name("g"), make_processor(keys=keys, active=active)
        ):
            (msg,) = await drain(boot, data_topic(prefix, "v2x_participant"), at_least=1)
        rec = DatasetRecord.from_kafka_value(msg.value)
        assert rec.provenance.pseudonym_key_id == active
        seen.setdefault(active, []).append(str(rec.values["ptc_id"]))
    assert seen["2025-05"][0] == seen["2025-05"][1]
    assert seen["2025-06"][0] != seen["2025-05"][0]


async def test_two_instances_split_partitions(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    boot = stack.kafka_bootstrap
    prefix = unique_name("sg") + "."
    group = unique_name("g")
    topic = raw_topic(prefix, "agri")

    def batch(
        start: int, n: int
    ) -> list[tuple[str, Envelope | tuple[bytes, list[tuple[str, bytes]]]]]:
        out: list[tuple[str, Envelope | tuple[bytes, list[tuple[str, bytes]]]]] = []
        for i in range(start, start + n):
            eui = FLEET[i % len(FLEET)]
            up = chirpstack_up(
                eui,
                soil_lpp(moisture=float(i % 90)),
                f_cnt=i,
                dedup_id=f"00000000-0000-4000-8000-{i:012d}",
            )
            out.append((topic, envelope(up, family="agri", device_id=eui)))
        return out

    await produce(boot, batch(0, 40))
    async with running(boot, prefix, group) as first, running(boot, prefix, group) as second:
        await produce(boot, batch(40, 40))
        for _ in range(120):  # wait for the rebalance to settle (not a timing assertion)
            if first.assignment() and second.assignment():
                break
            await asyncio.sleep(0.25)
        split = (first.assignment(), second.assignment())
        await produce(boot, batch(80, 40))
        soil = await drain(boot, data_topic(prefix, "agri_soil"), at_least=120)
    assert split[0] and split[1]
    assert not split[0] & split[1]
    ids = {DatasetRecord.from_kafka_value(m.value).record_id for m in soil}
    assert len(ids) == 120  # nothing lost across the rebalance
