"""An objection from submission to the consumer's corrected record (Art. 30), on the real stack.

A consumer unit objects to a shared agri_soil record; a unit that is not the provider cannot decide;
the provider accepts and corrects; the share and open topics carry the superseding record under the
original key, the corrections topic the signed event; ``provenance prove`` shows the original with
its correction and ``verify`` passes. A second test corrects a participant row and checks the
derived flow aggregate is recomputed, and one more lists an overdue case.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from processors.catalog import Catalog, DatasetEntry
from processors.provenance.keys import Signer, verify_signature
from processors.share.config import ShareSettings
from processors.share.deidentify import RotatingKeyring, time_bucket
from processors.share.rules import OpenRecord, cell_of, open_microdata
from processors.sinks.config import ProvenanceConfig
from runtime.kafka_client import config_for
from stack.credentials import Addresses
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.fixtures.share_data import participant_records
from tests.fixtures.storage import run_cli
from tests.integration.objections.helpers import (
    cli,
    cli_env,
    latest_by_key,
    publish_tiers,
    read_topic,
    stored_and_shared,
    topic_prefix,
)
from tests.integration.provenance.helpers import store

CONSUMER, PROVIDER, OTHER = "jl_transport_dept", "jl_agri_bureau", "jl_traffic_police"


def _token(env: dict[str, str], unit: str) -> str:
    # Issuing API tokens is the registry administrator's task, not the objection service's.
    out = cli({**env, "SENSEGATE_DB__DSN": env["_REGISTRY_DSN"]}, "token", "issue", unit)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def test_objection_corrects_share_and_open_records(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    unique_name: object,
    tmp_path: Path,
) -> None:
    prefix = topic_prefix(pg_schema)
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=prefix)  # the operator's SCRAM login
    records = list(soil_records(6))
    await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config, prefix=prefix)
    await publish_tiers(kafka, catalog, records)
    env = cli_env(stack, pg_schema, signing_seed, prefix)
    consumer, provider, other = (_token(env, u) for u in (CONSUMER, PROVIDER, OTHER))
    target = records[2]

    made = cli(
        env, "submit", "--dataset", "agri_soil", "--record-id", target.record_id,
        "--claim", "moisture reads 20 % high since the probe was moved", "--evidence", "site visit",
        token=consumer,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    case = json.loads(made.stdout)
    assert case["state"] == "RECEIVED"
    assert case["provider"] == PROVIDER
    case_id = case["case_id"]

    refused = cli(env, "decide", case_id, "accept", "--reason", "not mine", token=other)
    assert refused.returncode != 0
    assert "only the provider" in refused.stderr
    assert (
        cli(env, "decide", case_id, "accept", "--reason", "will verify", token=provider).returncode
        == 0
    )
    fixed = cli(
        env, "decide", case_id, "correct", "--reason", "probe recalibrated on site",
        "--values", '{"soil_moisture": 17.25}', token=provider,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    decided = json.loads(fixed.stdout.split("\nevent chain")[0])
    assert decided["state"] == "CORRECTED"
    correction_id = decided["correction_id"]
    assert correction_id

    share = latest_by_key(await read_topic(kafka, f"{prefix}share.agri_soil"))
    current = share[target.record_id].json()
    assert current["supersedes"] == correction_id
    assert current["values"]["soil_moisture"] == 17.25
    assert share[records[1].record_id].json().get("supersedes") is None  # others untouched

    open_key = open_microdata(target, _entry(catalog, "agri_soil"), _keyring()).record_id
    opened = latest_by_key(await read_topic(kafka, f"{prefix}open.agri_soil"))
    now_open = OpenRecord.model_validate_json(opened[open_key].value or b"")
    assert now_open.supersedes == correction_id
    assert now_open.values["soil_moisture"] == 17.25

    notices = await read_topic(kafka, f"{prefix}corrections")
    notice = next(n.json() for n in notices if n.key == target.record_id)
    assert notice["case_id"] == case_id
    signer = Signer.from_text(signing_seed)
    assert verify_signature(signer.public_key, notice["signature"], notice["body"].encode())
    assert {o["topic"] for o in notice["outputs"]} == {
        f"{prefix}share.agri_soil",
        f"{prefix}open.agri_soil",
    }

    answered = cli(env, "answer", case_id, "--text", "corrected; thank you", token=provider)
    assert answered.returncode == 0, answered.stderr
    shown = cli(env, "show", case_id, token=consumer)
    assert shown.returncode == 0, shown.stdout
    assert shown.stdout.rstrip().endswith("event chain: OK")
    states = [e["state"] for e in json.loads(shown.stdout.split("\nevent chain")[0])["events"]]
    assert states == ["RECEIVED", "ACCEPTED", "CORRECTED", "ANSWERED"]

    proof_file = tmp_path / "proof.json"
    # Verification and proofs are the auditor's (read-only role), not the objection service's.
    auditor = {**env, "SENSEGATE_DB__DSN": Addresses.from_state(stack.state).dsn("auditor")}
    proved = run_cli(
        "provenance", "prove", target.record_id, "--out", str(proof_file), env=auditor
    )
    assert proved.returncode == 0, proved.stderr
    proof = json.loads(proof_file.read_text())
    assert proof["record"]["soil_moisture"] == target.values["soil_moisture"]  # the original
    assert [c["event"]["correction_id"] for c in proof["corrections"]] == [correction_id]
    assert run_cli("provenance", "verify-proof", str(proof_file), env={}).returncode == 0
    verified = run_cli("provenance", "verify", env=auditor)
    assert verified.returncode == 0, verified.stdout

    # Publication is recorded, so a second run publishes nothing more.
    again = cli(env, "publish")
    assert again.returncode == 0, again.stderr
    assert "published 0 correction(s)" in again.stdout


def _entry(catalog: Catalog, code: str) -> DatasetEntry:
    entry = catalog.get(code)
    assert entry is not None
    return entry


def _keyring() -> RotatingKeyring:
    # The same keys as the share service of this test: its settings from the environment.
    keys = ShareSettings().share_keys
    return RotatingKeyring(keys.masters, keys.active_id)


async def test_correction_recomputes_the_derived_aggregate(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
) -> None:
    start = time_bucket(datetime.now(UTC) - timedelta(hours=1), 300)
    rows = participant_records(start, vehicles=40, steps=2)
    kafka, env = await stored_and_shared(
        stack, pg_schema, catalog, provenance_config, signing_seed, rows
    )
    prefix = kafka.topic_prefix
    consumer, provider = _token(env, CONSUMER), _token(env, OTHER)  # traffic police provide v2x

    flow = _entry(catalog, "v2x_participant_flow")
    before = latest_by_key(await read_topic(kafka, f"{prefix}share.v2x_participant_flow"))
    assert before, "the share stage released no aggregate"
    # A row inside a released window: the window its aggregate was published for.
    cells = {k: v.json() for k, v in before.items()}
    target = next(
        r for r in rows
        if (c := cell_of(r, flow)) is not None and any(
            v["cell"]["id"] == c.cell_id and v["values"]["ptc_type"] == r.values["ptc_type"]
            for v in cells.values()
        )
    )  # fmt: skip
    cell = cell_of(target, flow)
    assert cell is not None
    made = cli(
        env, "submit", "--dataset", "v2x_participant", "--record-id", target.record_id,
        "--claim", "speed misread from the video detector", token=consumer,
    )  # fmt: skip
    case_id = json.loads(made.stdout)["case_id"]
    assert (
        cli(env, "decide", case_id, "accept", "--reason", "checking", token=provider).returncode
        == 0
    )
    fixed = cli(
        env, "decide", case_id, "correct", "--reason", "speed re-measured",
        "--values", '{"speed": 99.5}', token=provider,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr

    with psycopg.connect(stack.pg_dsn) as conn:
        current = conn.execute(
            sql.SQL("SELECT speed, lat, lon, ptc_type, entity_id, observed_at FROM {}").format(
                sql.Identifier(pg_schema, "v2x_participant_current")
            )
        ).fetchall()
    bucket = time_bucket(target.observed_at, 300)
    window = [
        r for r in current
        if r[3] == target.values["ptc_type"] and time_bucket(r[5], 300) == bucket
        and _cell_id(r[1], r[2]) == cell.cell_id
    ]  # fmt: skip
    expected = round(sum(r[0] for r in window) / len(window), 3)
    assert 99.5 in [r[0] for r in window]

    for tier in ("share", "open"):
        latest = latest_by_key(await read_topic(kafka, f"{prefix}{tier}.v2x_participant_flow"))
        mine = [
            v.json() for v in latest.values()
            if v.value and v.json()["cell"]["id"] == cell.cell_id
            and v.json()["values"]["ptc_type"] == target.values["ptc_type"]
            and v.json()["period_start"].startswith(bucket.strftime("%Y-%m-%dT%H:%M"))
        ]  # fmt: skip
        assert len(mine) == 1, (tier, mine)
        assert mine[0]["supersedes"], tier
        assert mine[0]["values"]["mean_speed"] == expected
        assert mine[0]["values"]["records"] == len(window)


def _cell_id(lat: float, lon: float) -> str:
    from processors.share.deidentify import grid_cell

    return grid_cell(lat, lon, 1000).cell_id


async def test_overdue_case_is_listed(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
) -> None:
    prefix = topic_prefix(pg_schema)
    records = list(soil_records(3))
    await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config, prefix=prefix)
    env = cli_env(stack, pg_schema, signing_seed, prefix)
    consumer = _token(env, CONSUMER)
    ids = []
    for rec in records[:2]:
        made = cli(
            env, "submit", "--dataset", "agri_soil", "--record-id", rec.record_id,
            "--claim", "value looks wrong", token=consumer,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        ids.append(json.loads(made.stdout)["case_id"])
    # The first case arrived 30 days ago: its 10 working days are long over. Cases are
    # append-only, so the old case is written as it would have been then.
    # Only the owner role may switch the append-only triggers off (no superuser in the stack).
    table = sql.Identifier(pg_schema, "objection_case")
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(table))
        conn.execute(
            sql.SQL("UPDATE {} SET received_at = received_at - interval '30 days', "
                    "due_at = due_at - interval '30 days' WHERE case_id = %s").format(table),
            (ids[0],),
        )  # fmt: skip
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(table))
    listed = cli(env, "list", "--overdue")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(ids[0])
    assert lines[0].endswith("OVERDUE")
    count = cli(env, "list", "--overdue", "--count", token=consumer)
    assert count.stdout.strip() == "1"
    everything = cli(env, "list")
    assert len(everything.stdout.splitlines()) == 2
