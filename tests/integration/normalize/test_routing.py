"""C1 catalogue first at ingest, on real Kafka: a record reaches a dataset only through its entry's topics."""

from __future__ import annotations

from collections.abc import Callable

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.record import DatasetRecord
from contracts.topics import data_topic, dlq_topic, raw_topic
from tests.fixtures.normalize import chirpstack_up, csae_rsm_json, soil_lpp
from tests.fixtures.services import StackAddresses
from tests.integration.normalize.kit import EUI, RSU, drain, envelope, produce, running


async def test_topic_outside_source_topics_is_dead_lettered_not_merged(
    stack: StackAddresses, unique_name: Callable[[str], str]
) -> None:
    """Uncatalogued topic and another entry's topic -> ``no_catalog_entry``; nothing stored."""
    prefix = unique_name("sg") + "."
    boot = stack.kafka_bootstrap
    agri, v2x = raw_topic(prefix, "agri"), raw_topic(prefix, "v2x")
    routed = envelope(
        chirpstack_up(EUI, soil_lpp(), dedup_id="22222222-0000-4000-8000-000000000001"),
        family="agri",
        device_id=EUI,
        topic=f"application/app1/device/{EUI}/event/up",
    )
    # the same device, a second path into agri_soil that the catalog does not name
    stray = envelope(
        chirpstack_up(EUI, soil_lpp(), dedup_id="22222222-0000-4000-8000-000000000002"),
        family="agri",
        device_id=EUI,
        topic=f"farm/backup/{EUI}/up",
    )
    # participant data arriving on the topic that feeds v2x_signal_phase
    crossed = envelope(
        csae_rsm_json(RSU, [101, 102]),
        family="v2x",
        device_id=RSU,
        topic=f"V2X/RSU/{RSU}/SPAT/UP",
    )
    await produce(boot, [(agri, routed), (agri, stray), (v2x, crossed)])
    async with running(boot, prefix, unique_name("g")):
        letters = await drain(boot, dlq_topic(prefix), at_least=2)
        soil = await drain(boot, data_topic(prefix, "agri_soil"), at_least=1)
        parts = await drain(boot, data_topic(prefix, "v2x_participant"), at_least=0, deadline_s=3)
    dead = sorted((DeadLetter.from_json(m.value) for m in letters), key=lambda d: d.detail)
    assert [d.reason for d in dead] == [ReasonCode.NO_CATALOG_ENTRY] * 2
    assert "'V2X/RSU/" in dead[0].detail and "feeds v2x_signal_phase" in dead[0].detail
    assert "'farm/backup/" in dead[1].detail and "not a source_topic of agri_soil" in dead[1].detail
    records = [DatasetRecord.from_kafka_value(m.value) for m in soil]
    assert [r.provenance.mqtt_topic for r in records] == [routed.topic]
    assert parts == []
