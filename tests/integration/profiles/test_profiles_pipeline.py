"""Profiles through the real pipeline: Kafka raw topic -> normalize -> Kafka -> sink -> PostgreSQL.

Devices are registered and bound with the CLI (``profiles register``, ``devices add --profile``);
uplinks are ChirpStack v4 events whose LPP bytes come from the test's own encoder.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from contracts.dead_letter import DeadLetter
from contracts.settings import DbConfig
from processors.catalog import Catalog
from processors.health import HealthTracker
from processors.health.report import expected_interval
from processors.health.service import HealthService
from processors.normalize.dedup import RecentKeys
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.runner import NormalizeRunner, RunnerConfig
from processors.profiles import ProfileBook
from processors.profiles.store import refresh_book
from processors.registry import DeviceRegistry
from processors.sinks.service import SinkService
from runtime.kafka_client import config_for
from tests.fixtures.normalize import chirpstack_up
from tests.fixtures.services import StackAddresses
from tests.fixtures.storage import run_cli
from tests.integration.normalize.kit import drain, envelope, produce
from tests.integration.sinks.helpers import sink_settings, wait_until
from tests.unit.profiles.lpp_reference import frame

ISSUE = "70b3d57ed0060001"  # the issue's layout (soil-mth-lpp)
FAHR = "70b3d57ed0060002"  # sim-soil-c-lpp, temperature in °F
JSONP = "70b3d57ed0060003"  # sim-soil-json, battery in mV
OBJ = "70b3d57ed0060004"  # sim-weather-object, pressure in Pa
NONE = "70b3d57ed0060005"  # registered without a profile


def _env(stack: StackAddresses, schema: str) -> dict[str, str]:
    return {"SENSEGATE_DB__DSN": stack.pg_dsn, "SENSEGATE_DB__SCHEMA_NAME": schema}


def _cli(env: dict[str, str], *args: str) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows(dsn: str, schema: str, table: str, device: str) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT d.*, p.profile, p.source_values FROM {} d JOIN {} p USING (provenance_id) "
        "WHERE p.device_id = %s ORDER BY d.f_cnt"
    ).format(sql.Identifier(schema, table), sql.Identifier(schema, "provenance"))
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return list(cur.execute(query, (device,)).fetchall())


def _up(eui: str, f_cnt: int, frm: bytes, *, f_port: int = 2) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return chirpstack_up(eui, frm, f_cnt=f_cnt, time_iso=now, f_port=f_port)


def _object_up(eui: str, f_cnt: int, obj: dict[str, Any]) -> bytes:
    doc = json.loads(_up(eui, f_cnt, b"\x00"))
    del doc["data"]
    doc["object"] = obj
    return json.dumps(doc).encode()


async def test_profiles_end_to_end(  # noqa: PLR0917 - one scenario; pytest fixtures
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
    tmp_path: Path,
) -> None:
    env = _env(stack, pg_schema)
    out = _cli(env, "profiles", "register")
    assert "soil-mth-lpp: version 1 (registered" in out
    # a unit-incompatible profile is refused and nothing of it is registered
    bad = tmp_path / "bad-probe.yaml"
    bad.write_text(
        "name: bad-probe\nversion: 1\nfamily: agri\ncodec: cayenne_lpp\ndataset: agri_soil\n"
        "description: test\nfields:\n  - {channel: 3, type: humidity, item: soil_ec}\n",
        encoding="utf-8",
    )
    refused = run_cli("profiles", "--profiles", str(tmp_path), "register", env=env)
    assert refused.returncode == 1
    assert "channel 3 (humidity) -> agri_soil.soil_ec" in refused.stderr
    assert "'%' cannot be converted to the item's unit 'uS/cm'" in refused.stderr
    with psycopg.connect(stack.pg_dsn) as conn:
        names = conn.execute(
            sql.SQL("SELECT DISTINCT name FROM {}").format(
                sql.Identifier(pg_schema, "device_profile")
            )
        ).fetchall()
    assert ("bad-probe",) not in names
    # binding: datasets default to the profile's (soil + weather for the issue's probe)
    # --no-broker: this test is about bindings; broker credentials have their own tests
    out = _cli(env, "devices", "add", "agri", ISSUE, "--profile", "soil-mth-lpp", "--no-broker")
    assert "with profile soil-mth-lpp@1" in out
    _cli(env, "devices", "add", "agri", FAHR, "--profile", "sim-soil-c-lpp@1", "--no-broker")
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "family,device_id,provider,datasets,codec,v2x_edition,v2x_framing,industrial_id,lat,lon,"
        "profile,profile_version\n"
        f"agri,{JSONP},jl_agri_bureau,agri_soil,,,false,,,,sim-soil-json,\n"
        f"agri,{OBJ},jl_agri_bureau,agri_weather,,,false,,,,sim-weather-object,\n"
        f"agri,{NONE},jl_agri_bureau,agri_soil,chirpstack_lpp,,false,,,,,\n",
        encoding="utf-8",
    )
    assert "imported 3 devices" in _cli(env, "devices", "import", str(csv), "--no-broker")
    unknown = run_cli(
        "devices", "add", "agri", NONE, "--profile", "no-such-probe", "--no-broker", env=env
    )
    assert unknown.returncode == 1 and "profiles register" in unknown.stderr

    prefix = unique_name("p") + "."
    db = DbConfig(dsn=SecretStr(stack.pg_dsn), schema_name=pg_schema)
    messages = [
        # the issue's layout, fCnt 1, 2, 4 (3 lost on the radio)
        *(
            (ISSUE, _up(ISSUE, f, frame((1, "analog_input", 30.0 + f), (2, "temperature", -2.5 * f),
                                        (3, "humidity", 60.0 + f))))
            for f in (1, 2, 4)
        ),
        # the probe swaps channels 2 and 3: profile_mismatch, nothing stored
        (ISSUE, _up(ISSUE, 5, frame((1, "analog_input", 35.0), (2, "humidity", 61.0),
                                    (3, "temperature", -1.0)))),
        (FAHR, _up(FAHR, 1, frame((1, "voltage", 3.6), (2, "analog_input", 25.0),
                                  (3, "analog_input", 41.0), (4, "generic_sensor", 900),
                                  (5, "analog_input", 6.5)))),
        (JSONP, _up(JSONP, 1, json.dumps({"moisture_pct": 20.0, "temp_f": 50.0, "ec_ms_cm": 0.9,
                                          "ph": 6.1, "bat_mv": 3550}).encode(), f_port=3)),
        (OBJ, _object_up(OBJ, 1, {"air": {"t": 3.5, "rh": 70.0, "p_pa": 99850.0}, "vbat": 3.5})),
        (NONE, _up(NONE, 1, frame((1, "temperature", 10.0)))),
    ]  # fmt: skip
    await produce(
        stack.kafka_bootstrap,
        [(f"{prefix}raw.agri", envelope(p, family="agri", device_id=d)) for d, p in messages],
    )
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=prefix)  # the operator's SCRAM login
    book = ProfileBook()
    await refresh_book(book, stack.pg_dsn, pg_schema)
    async with DeviceRegistry(db=db, refresh_interval_s=1.0) as registry:
        health = HealthService(
            HealthTracker({e.code: e.family for e in catalog}),
            registry.devices,
            lambda d: expected_interval(d, book, catalog),
            dsn=stack.pg_dsn,
            schema=pg_schema,
        )
        processor = NormalizeProcessor(
            catalog=catalog,
            registry=registry,
            mappers={"agri": AgriMapper(profiles=book, catalog=catalog)},
            pseudonymizer=Pseudonymizer({"k1": SecretStr("integration-key-0001")}, "k1"),
            dedup=RecentKeys(1000),
        )
        runner = NormalizeRunner(
            kafka=kafka,
            config=RunnerConfig(group_id=unique_name("n"), poll_timeout_ms=200, families=("agri",)),
            processor=processor,
            on_delivered=health.observe,
        )
        settings = sink_settings(
            bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
            group=unique_name("g"), seed=signing_seed,
        )  # fmt: skip
        sink = SinkService(settings, catalog)
        stop = asyncio.Event()
        async with runner:
            tasks = [asyncio.create_task(runner.run(stop)), asyncio.create_task(sink.run(stop))]
            try:
                await wait_until(
                    lambda: (
                        len(_rows(stack.pg_dsn, pg_schema, "agri_soil", ISSUE)) == 3
                        and len(_rows(stack.pg_dsn, pg_schema, "agri_weather", OBJ)) == 1
                    ),
                    limit_s=60,
                )
                letters = [
                    DeadLetter.from_json(m.value)
                    for m in await drain(stack.kafka_bootstrap, f"{prefix}dlq", at_least=2)
                ]
            finally:
                stop.set()
                await asyncio.gather(*tasks)
        assert await health.flush() > 0

    soil = _rows(stack.pg_dsn, pg_schema, "agri_soil", ISSUE)
    assert [(r["f_cnt"], r["soil_moisture"], r["soil_temperature"]) for r in soil] == [
        (1, 31.0, -2.5),
        (2, 32.0, -5.0),
        (4, 34.0, -10.0),
    ]
    assert all(r["soil_ec"] is None and r["profile"] == "soil-mth-lpp@1" for r in soil)
    weather = _rows(stack.pg_dsn, pg_schema, "agri_weather", ISSUE)
    assert [r["air_humidity"] for r in weather] == [61.0, 62.0, 64.0]
    reasons = {(d.envelope["device_id"], d.reason.value): d.detail for d in letters}
    mismatch = reasons[(ISSUE, "profile_mismatch")]
    assert "channel 2 sent humidity" in mismatch and "expects temperature" in mismatch
    assert "--profile NAME" in reasons[(NONE, "no_profile")]
    assert _rows(stack.pg_dsn, pg_schema, "agri_soil", NONE) == []

    (f,) = _rows(stack.pg_dsn, pg_schema, "agri_soil", FAHR)
    assert f["soil_temperature"] == 5.0
    assert json.loads(f["source_values"]) == [
        {"field": "channel 3 (analog_input)", "item": "soil_temperature", "unit": "[degF]",
         "value": 41.0}
    ]  # fmt: skip
    (j,) = _rows(stack.pg_dsn, pg_schema, "agri_soil", JSONP)
    assert (j["soil_temperature"], j["soil_ec"], j["battery"]) == (10.0, 900.0, 3.55)
    kept = {v["item"]: (v["value"], v["unit"]) for v in json.loads(j["source_values"])}
    assert kept["battery"] == (3550.0, "mV") and kept["soil_temperature"] == (50.0, "[degF]")
    (o,) = _rows(stack.pg_dsn, pg_schema, "agri_weather", OBJ)
    assert o["barometric_pressure"] == 998.5

    report = json.loads(_cli(env, "devices", "health", "--json"))
    by_id = {d["device_id"]: d for d in report["devices"]}
    issue = by_id[ISSUE]
    assert issue["messages"] == 4 and issue["counter_gaps"] == 1
    assert issue["dead_letters"] == {"profile_mismatch": 1}
    assert issue["profile"] == "soil-mth-lpp@1"
    assert by_id[NONE]["dead_letters"] == {"no_profile": 1}
