"""Erasure that erases, through the real pipeline: nothing of an erased subject stays readable in
PostgreSQL nor in the raw, data, share and open topics, while the other subjects' values do.

Mosquitto -> gateway -> ``raw.v2x`` -> normalize (seals personal values under each subject's key)
-> ``data.v2x_participant`` -> sink (PostgreSQL) and share (``share.*``/``open.*``), each stage under
its own database role. After ``provenance erase-subject`` and ``objections publish`` the test reads
every topic from the beginning, opens every sealed value with every key the database still holds,
and looks for the subject's pseudonym, its share-tier pseudonym, its positions (as floats in the
records, as CSAE integers in the raw frames) and its clear temporary id in the raw frames.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from contracts.sealed import SEALED_FIELD_KID
from contracts.settings import DbConfig, KafkaConfig
from contracts.topics import data_topic, raw_topic, share_topic
from processors.catalog import Catalog
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.runner import NormalizeRunner, RunnerConfig
from processors.normalize.sealing import RecordSealer
from processors.objections.propagate import corrections_topic
from processors.provenance.keytable import KeyTable
from processors.share.config import ShareSettings
from processors.share.deidentify import RotatingKeyring
from processors.share.rules import SHARE_EPOCH_DAYS
from processors.share.service import run_share
from processors.sinks.service import SinkService
from runtime.kafka_client import config_for
from runtime.topic_admin import ensure_topics, pipeline_topics
from stack.credentials import Addresses
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.services import StackAddresses
from tests.fixtures.storage import run_cli
from tests.integration.erasure.helpers import live_keys, opened_json, opened_raw, scan_db
from tests.integration.erasure.key_release import open_share, unit_api, unit_with_share_grant
from tests.integration.gateway.harness import Publisher, gateway_overrides, in_process_gateway
from tests.integration.normalize.kit import RSU, drain, make_processor
from tests.integration.objections.helpers import cli, cli_env, read_topic
from tests.integration.sinks.helpers import sink_settings, wait_until

pytestmark = pytest.mark.timeout(600)

VEHICLES, STEPS = 5, 6
SUBJECT_STEPS = 4  # the erased vehicle leaves the RSU's range after these steps
EPOCH_S = 2  # raw key epochs: the last steps fall in later epochs than the subject's messages
PN_KEY = "integration-key-0001"  # the normalize kit's pseudonym key (make_processor)
ERASED = 1002  # the temporary id of the subject whose erasure is requested
CORRECTED_LAT = 43.8765432  # a corrected position of the subject (distinct from every other)


def _position(ptc: int, step: int) -> tuple[int, int]:
    """CSAE integer position (1e-7 deg) of a vehicle at a step: every value distinct."""
    return 438_800_000 + (ptc - 1000) * 1_371 + step * 37, 1_253_150_000 + (
        ptc - 1000
    ) * 1_193 + step * 29


def _vehicles(step: int) -> list[int]:
    """Temporary ids in range of the RSU at a step."""
    return [p for p in range(1000, 1000 + VEHICLES) if p != ERASED or step < SUBJECT_STEPS]


def _rsm(step: int) -> bytes:
    """One RSM of the RSU with the participants in range, stamped now."""
    sec_mark = (time.time_ns() // 1_000_000) % 60_000
    participants = []
    for ptc in _vehicles(step):
        lat, lon = _position(ptc, step)
        participants.append({
            "ptcType": "motor", "ptcId": ptc, "source": "lidar", "secMark": sec_mark,
            "pos": {"lat": lat, "lon": lon}, "speed": 600 + ptc % 7, "heading": 7200,
            "size": {"width": 185, "length": 470, "height": 30},
        })  # fmt: skip
    doc = {"id": RSU, "content": {"rsms": [{
        "msgCnt": step, "refPos": {"lat": 438812345, "lon": 1253154321, "ele": 2150},
        "participants": participants,
    }]}}  # fmt: skip
    return json.dumps(doc).encode()


def _positions(dsn: str, schema: str, subject: str) -> set[str]:
    """A subject's stored positions as text, as they appear in records and rows (shortest repr)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT lat, lon FROM {}.v2x_participant WHERE ptc_id = %s").format(
                sql.Identifier(schema)
            ),
            (subject,),
        ).fetchall()
    assert rows
    return {repr(v) for row in rows for v in row}


def _raw_values(ptc: int, steps: range) -> set[str]:
    """The vehicle's clear temporary id and positions as the raw CSAE frames carry them."""
    found = {f'"ptcId": {ptc},'}
    for step in steps:
        found |= {f'"lat": {_position(ptc, step)[0]},', f'"lon": {_position(ptc, step)[1]}}}'}
    return found


async def _scan_kafka(
    kafka: Any, topics: list[str], keys: dict[str, bytes], raw_keys: dict[str, bytes]
) -> tuple[str, dict[str, int]]:
    """Every value of ``topics`` as text (its bytes, plus what the live keys open); and per topic,
    how many sealed values no live key opens any more."""
    texts: list[str] = []
    shredded: dict[str, int] = {}
    for topic in topics:
        tier = "share" if ".share." in topic else "data"
        for seen in await read_topic(kafka, topic, timeout_s=15):
            if seen.value is None:
                continue  # a tombstone
            if ".raw." in topic:
                text, gone = opened_raw(seen.value, seen.headers, raw_keys)
            else:
                text, gone = opened_json(seen.value, keys, tier)
            texts.append(text)
            shredded[topic] = shredded.get(topic, 0) + gone
    return "\n".join(texts), shredded


async def _values(kafka: KafkaConfig, topic: str) -> list[bytes]:
    """Every non-tombstone value of ``topic``, from the beginning."""
    return [seen.value for seen in await read_topic(kafka, topic) if seen.value is not None]


def _kids(values: list[bytes]) -> list[str]:
    """The key ids named by the sealed tokens of ``values``."""
    return sorted({m.group(1).decode() for v in values if (m := SEALED_FIELD_KID.search(v))})


async def test_erased_subject_is_unreadable_in_the_database_and_every_topic(  # noqa: PLR0917
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    signing_seed: str,
    mqtt_logins: MqttLogins,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    prefix = unique_name("er") + "."
    boot = stack.kafka_bootstrap
    kafka = config_for(boot, topic_prefix=prefix)
    roles = Addresses.from_state(stack.state)
    pseudonyms = Pseudonymizer({"k1": SecretStr(PN_KEY)}, "k1")
    subject_of = {
        ptc: pseudonyms.pseudonym(f"{RSU}:{ptc}", "v2x_participant.ptc_id")
        for ptc in range(1000, 1000 + VEHICLES)
    }
    subject = subject_of[ERASED]

    sealer = RecordSealer(dsn=roles.dsn("normalize"), schema=pg_schema, catalog=catalog)
    raw_keys = KeyTable(roles.dsn("normalize"), pg_schema, "test-normalize-raw")
    runner = NormalizeRunner(
        kafka=kafka, config=RunnerConfig(group_id=f"{prefix}normalize", poll_timeout_ms=200),
        processor=make_processor(), sealer=sealer.seal, raw_keys=raw_keys.raw_by_id,
    )  # fmt: skip
    sink = SinkService(
        sink_settings(
            bootstrap=boot, dsn=roles.dsn("sink"), schema=pg_schema, prefix=prefix,
            group=f"{prefix}sink", seed=signing_seed,
        ),
        catalog,
    )  # fmt: skip
    share = ShareSettings(
        kafka=kafka, share_group_id=f"{prefix}share",
        db=DbConfig(dsn=SecretStr(roles.dsn("reader")), schema_name=pg_schema),
    )  # fmt: skip
    gateway = gateway_overrides(
        mqtt=mqtt_logins.gateway, kafka=boot, prefix=prefix, instance=unique_name("gw"),
        subscriptions=[f"V2X/RSU/{RSU}/RSM/UP"], seal_families=["v2x"], seal_epoch_s=EPOCH_S,
    )  # fmt: skip
    gateway["db"] = {"dsn": roles.dsn("gateway"), "schema_name": pg_schema}
    # As the services do at start (the normalizer subscribes to raw topics that must exist).
    await ensure_topics(kafka, pipeline_topics(prefix, catalog.entries))
    stop = asyncio.Event()
    async with in_process_gateway(gateway), runner:
        tasks = [
            asyncio.create_task(runner.run(stop)),
            asyncio.create_task(sink.run(stop)),
            asyncio.create_task(run_share(share, catalog, stop=stop)),
        ]
        publisher = Publisher(mqtt_logins.publisher, unique_name("rsu"))
        try:
            for step in range(STEPS):
                if step == SUBJECT_STEPS:  # the next messages fall in a later raw epoch
                    await asyncio.sleep(EPOCH_S + 0.5)
                publisher.publish(f"V2X/RSU/{RSU}/RSM/UP", _rsm(step), f"m{step}")
                await asyncio.sleep(0.3)
            publisher.wait_acked(30)
            assert len(publisher.acked_ids()) == STEPS

            def stored() -> bool:
                with psycopg.connect(stack.pg_dsn) as conn:
                    row = conn.execute(
                        sql.SQL("SELECT count(*) FROM {}.v2x_participant").format(
                            sql.Identifier(pg_schema)
                        )
                    ).fetchone()
                return bool(row and row[0] == sum(len(_vehicles(s)) for s in range(STEPS)))

            await wait_until(stored, limit_s=120)

            rows = sum(len(_vehicles(s)) for s in range(STEPS))
            shared = await drain(
                boot, share_topic(prefix, "v2x_participant"), at_least=rows,
                deadline_s=120, settle=False,
            )  # fmt: skip
            assert len(shared) >= rows
        finally:
            publisher.close()
            stop.set()
            await asyncio.gather(*tasks)
            await sealer.close()
            await raw_keys.close()

    topics = [
        raw_topic(prefix, "v2x"), data_topic(prefix, "v2x_participant"),
        share_topic(prefix, "v2x_participant"),
        *(f"{prefix}{t}" for t in ("open.v2x_participant_flow", "share.v2x_participant_flow")),
    ]  # fmt: skip
    observed = datetime.now(UTC)
    masters = json.loads(os.environ["SENSEGATE_SHARE_KEYS__MASTERS"])
    active = os.environ["SENSEGATE_SHARE_KEYS__ACTIVE_ID"]
    ring = RotatingKeyring({k: SecretStr(v) for k, v in masters.items()}, active)

    def share_id(pseudonym: str) -> str:
        """A subject's pseudonym on the share tier."""
        return ring.pseudonym(
            pseudonym, tier="share", dataset="v2x_participant", item="ptc_id", moment=observed,
            epoch_days=SHARE_EPOCH_DAYS,
        )[0]  # fmt: skip

    share_ids = {share_id(subject)}
    raw_mine = _raw_values(ERASED, range(SUBJECT_STEPS))
    mine = {subject} | share_ids | _positions(stack.pg_dsn, pg_schema, subject) | raw_mine
    others = {subject_of[1003]} | _positions(stack.pg_dsn, pg_schema, subject_of[1003])
    # raw frames of the later epoch, which held no message of the subject
    raw_later = _raw_values(1003, range(SUBJECT_STEPS, STEPS))

    # Positive control: before the erasure, the scans do see the subject's values.
    db_before = scan_db(stack.pg_dsn, pg_schema)
    assert all(v in db_before for v in mine - share_ids - raw_mine)
    keys = live_keys(stack.pg_dsn, pg_schema, "pi_subject_key", "key_id, data_key")
    assert len(keys) == VEHICLES  # normalize created one key per subject
    raw_keys_before = live_keys(stack.pg_dsn, pg_schema, "raw_epoch_key", "key_id, data_key")
    assert len(raw_keys_before) >= 2  # the gateway's keys of the RSU's epochs
    sealed_only, _ = await _scan_kafka(kafka, topics, {}, {})
    assert not [v for v in mine | others if v in sealed_only], "personal values in clear in Kafka"
    kafka_before, shredded = await _scan_kafka(kafka, topics, keys, raw_keys_before)
    assert not any(shredded.values())
    data_text = (await read_topic(kafka, data_topic(prefix, "v2x_participant")))[0].value or b""
    assert b'"sealed":"sg1.' in data_text and subject.encode() not in data_text
    missing = sorted(v for v in mine if v not in kafka_before)
    assert not missing, f"the scan does not see the values it looks for: {missing}"

    # Key release: a unit with a share grant opens the share tier's personal values; nobody else.
    participant = "v2x_participant"
    share_values = await _values(kafka, share_topic(prefix, participant))
    kids = _kids(share_values)
    assert len(kids) == VEHICLES
    police = await unit_with_share_grant(
        stack.pg_dsn, pg_schema, "jl_traffic_police", participant, granted=True
    )
    medics = await unit_with_share_grant(
        stack.pg_dsn, pg_schema, "jl_emergency_mgmt", participant, granted=False
    )
    api_dsn = roles.dsn("objections")
    async with unit_api(api_dsn, pg_schema, catalog, signing_seed, tmp_path / "api1") as api:
        assert (await api.share_keys(None, participant, kids))[0] == 401
        assert (await api.share_keys(medics, participant, kids))[0] == 403  # no grant
        assert (await api.share_keys(police, "agri_soil", kids))[0] == 403  # not its dataset
        status, released = await api.share_keys(police, participant, kids)
    assert status == 200, released
    assert released["max_cache_s"] > 0 and all(released["keys"].values())
    opened, shut = open_share(share_values, released["keys"])
    assert shut == 0 and all(v in opened for v in share_ids), "a grant holder cannot read"
    assert share_id(subject_of[1003]) in opened

    env = cli_env(stack, pg_schema, signing_seed, prefix)
    admin = {**env, "SENSEGATE_DB__DSN": roles.dsn("registry")}
    auditor = {**env, "SENSEGATE_DB__DSN": roles.dsn("auditor")}
    # A correction of one of the subject's positions, published before the erasure: its signed
    # event (corrections topic) carries only the commitment; the share record is sealed.
    with psycopg.connect(stack.pg_dsn) as conn:
        fixed = conn.execute(
            sql.SQL("SELECT record_id FROM {}.v2x_participant WHERE ptc_id = %s LIMIT 1").format(
                sql.Identifier(pg_schema)
            ),
            (subject,),
        ).fetchone()
    assert fixed is not None
    corrected = run_cli(
        "provenance", "correct", fixed[0], "--values", json.dumps({"lat": CORRECTED_LAT}),
        "--reason", "position misread", env=admin,
    )  # fmt: skip
    assert corrected.returncode == 0, corrected.stderr
    assert str(CORRECTED_LAT) not in corrected.stdout  # the signed event holds the commitment
    assert cli(env, "publish").returncode == 0
    mine.add(str(CORRECTED_LAT))
    assert str(CORRECTED_LAT) in scan_db(stack.pg_dsn, pg_schema)  # plain for <table>_current
    topics.append(corrections_topic(prefix))
    assert str(CORRECTED_LAT) not in (await _scan_kafka(kafka, topics, {}, {}))[0]
    done = run_cli(
        "provenance", "erase-subject", "v2x_participant", subject,
        "--legal-basis", "PIPL Art. 47; request 2026-0099", "--normalize-group", f"{prefix}normalize",
        env=admin,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    erased = json.loads(done.stdout.split("\nkey destroyed")[0])
    assert len(erased["records"]) == SUBJECT_STEPS
    marked = erased["raw_keys_marked"]
    assert marked >= 1
    # Within the default grace (10 min after the epoch) the raw keys are only marked.
    assert "raw epoch keys destroyed: 0" in done.stdout and "waiting for their epoch" in done.stdout
    await asyncio.sleep(EPOCH_S + 1)  # every epoch of the subject's messages is closed (+ grace)
    # A normalizer group that has not read the raw topic holds the destruction back.
    behind = run_cli(
        "provenance", "shred-raw", "--raw-grace-s", "1", "--normalize-group", f"{prefix}nobody",
        env=admin,
    )  # fmt: skip
    assert behind.returncode == 0 and "waiting for normalize" in behind.stdout, behind.stdout
    assert len(live_keys(stack.pg_dsn, pg_schema, "raw_epoch_key", "key_id, data_key")) == len(
        raw_keys_before
    )
    shred = run_cli(
        "provenance", "shred-raw", "--raw-grace-s", "1", "--normalize-group", f"{prefix}normalize",
        env=admin,
    )  # fmt: skip
    assert f"raw epoch keys destroyed: {marked}" in shred.stdout, shred.stdout
    published = cli(env, "publish")
    assert published.returncode == 0, published.stderr

    db_after = scan_db(stack.pg_dsn, pg_schema)
    keys_after = live_keys(stack.pg_dsn, pg_schema, "pi_subject_key", "key_id, data_key")
    assert len(keys_after) == VEHICLES - 1
    raw_after = live_keys(stack.pg_dsn, pg_schema, "raw_epoch_key", "key_id, data_key")
    assert len(raw_after) == len(raw_keys_before) - marked >= 1
    kafka_after, shredded = await _scan_kafka(kafka, topics, keys_after, raw_after)
    # data and share topics: each of the subject's records is sealed under the destroyed key;
    # raw topic: the frames of the subject's epochs (all the RSU's vehicles in them)
    assert shredded[topics[1]] == SUBJECT_STEPS
    assert shredded[topics[2]] == SUBJECT_STEPS + 1  # and the corrected record's share form
    assert 1 <= shredded[topics[0]] <= SUBJECT_STEPS
    found_db = sorted(v for v in mine if v in db_after)
    found_kafka = sorted(v for v in mine if v in kafka_after)
    assert not found_db, f"erased values still in the database: {found_db}"
    assert not found_kafka, f"erased values still readable in Kafka: {found_kafka}"
    # The other subjects' values stay readable (data and share tiers, and the database).
    assert all(v in kafka_after for v in others | raw_later)
    assert all(v in db_after for v in others)

    # The grant holder asks again: the erased subject's key is gone, the others are released.
    share_after = await _values(kafka, share_topic(prefix, participant))
    async with unit_api(api_dsn, pg_schema, catalog, signing_seed, tmp_path / "api2") as api:
        status, released = await api.share_keys(police, participant, _kids(share_after))
    assert status == 200, released
    assert sum(v is None for v in released["keys"].values()) == 1
    opened, shut = open_share(share_after, released["keys"])
    assert shut >= SUBJECT_STEPS and not any(v in opened for v in share_ids)
    assert share_id(subject_of[1003]) in opened
    verified = run_cli("provenance", "verify", env=auditor)
    assert verified.returncode == 0, verified.stdout
    proof_file = tmp_path / "proof.json"
    proved = run_cli("provenance", "prove", fixed[0], "--out", str(proof_file), env=auditor)
    assert proved.returncode == 0, proved.stderr
    proof = json.loads(proof_file.read_text())
    assert proof["erased"] is True
    assert [c["event"]["action"] for c in proof["corrections"]] == ["correct", "erase"]
    logged = proof["corrections"][0]["event"]["new_values"]  # the signed body: commitment only
    assert "_pi" in logged and not {"lat", "lon", "ptc_id"} & set(logged)
