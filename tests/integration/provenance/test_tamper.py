"""Mutation test: rows altered, deleted or inserted directly in SQL are each named by verify.

The tampering is done by the owner role, the only non-superuser able to switch the append-only
triggers off (service roles lack the privileges, see tests/integration/security/test_pg_roles.py);
verify runs as the read-only auditor role with the signing key's public key as its trust set.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from psycopg import sql

from processors.catalog import Catalog
from processors.provenance.keys import Signer
from processors.sinks.config import ProvenanceConfig
from tests.fixtures.records import soil_record, soil_records
from tests.fixtures.services import StackAddresses, consumer_env
from tests.fixtures.storage import run_cli
from tests.integration.provenance.helpers import store


def _env(stack: StackAddresses, schema: str, seed: str) -> dict[str, str]:
    return {
        "SENSEGATE_DB__DSN": stack.pg_dsn,
        "SENSEGATE_DB__SCHEMA_NAME": schema,
        "SENSEGATE_PROVENANCE__SIGNING_KEY": seed,
    }


def _audit_env(stack: StackAddresses, schema: str, seed: str) -> dict[str, str]:
    """The auditor role, trusting the test log's public key only."""
    return {
        "SENSEGATE_DB__DSN": consumer_env(stack.state, "auditor")["SENSEGATE_DB__DSN"],
        "SENSEGATE_DB__SCHEMA_NAME": schema,
        "SENSEGATE_PROVENANCE__TRUSTED_PUBLIC_KEYS": json.dumps([Signer.from_text(seed).public_key]),
    }


async def test_verify_names_every_tampered_row(
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
) -> None:
    records = list(soil_records(12))
    result = await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config)
    assert result.stored == 12
    env = _audit_env(stack, pg_schema, signing_seed)
    clean = run_cli("provenance", "verify", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "OK" in clean.stdout

    altered, deleted, prov_altered = records[2], records[5], records[7]
    forged = soil_record(999, device="a1b2c3d4e5f60001")
    t = sql.Identifier(pg_schema, "agri_soil")
    tampered = ("agri_soil", "provenance")
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        for table in tampered:  # the owner bypassing its own append-only triggers
            conn.execute(
                sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(
                    sql.Identifier(pg_schema, table)
                )
            )
        conn.execute(
            sql.SQL("UPDATE {} SET soil_moisture = soil_moisture + 1 WHERE record_id = %s").format(
                t
            ),
            (altered.record_id,),
        )
        conn.execute(sql.SQL("DELETE FROM {} WHERE record_id = %s").format(t), (deleted.record_id,))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT observed_at + interval '1 day', received_at, ingested_at, "
                "%s, entity_id, %s, quality, location, provenance_id, catalog_version, "
                "soil_moisture, soil_temperature, soil_ec, soil_ph, battery, f_cnt, rssi, snr "
                "FROM {} WHERE record_id = %s"
            ).format(t, t),
            (forged.record_id, forged.natural_key, records[0].record_id),
        )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET gateway_id = 'gw-forged' WHERE provenance_id = ("
                "SELECT provenance_id FROM {} WHERE record_id = %s)"
            ).format(sql.Identifier(pg_schema, "provenance"), t),
            (prov_altered.record_id,),
        )
        for table in tampered:
            conn.execute(
                sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(
                    sql.Identifier(pg_schema, table)
                )
            )

    out = run_cli("provenance", "verify", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()

    def named(kind: str, ref: str) -> bool:
        return any(line.startswith(kind) and ref in line for line in lines)

    assert named("ALTERED", f"agri_soil:{altered.record_id}")
    assert named("DELETED", f"agri_soil:{deleted.record_id}")
    assert named("INSERTED", f"agri_soil:{forged.record_id}")
    assert named("ALTERED", "provenance:")
    bad = [line for line in lines if line.split()[0] in {"ALTERED", "DELETED", "INSERTED"}]
    assert len(bad) == 4, out.stdout


async def test_proof_checks_offline_and_detects_edits(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    tmp_path: Path,
) -> None:
    records = list(soil_records(9))
    await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config)
    env = _env(stack, pg_schema, signing_seed)
    target = records[4]
    proof_file = tmp_path / "proof.json"
    made = run_cli("provenance", "prove", target.record_id, "--out", str(proof_file), env=env)
    assert made.returncode == 0, made.stderr
    checked = run_cli("provenance", "verify-proof", str(proof_file), env={})
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("OK")

    proof = json.loads(proof_file.read_text())
    proof["record"]["soil_moisture"] = proof["record"]["soil_moisture"] + 0.5
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(proof))
    refused = run_cli("provenance", "verify-proof", str(forged_file), env={})
    assert refused.returncode == 1
    assert "row hash" in refused.stdout


async def test_correction_supersedes_and_original_stays_provable(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    tmp_path: Path,
) -> None:
    records = list(soil_records(6))
    await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config)
    env = _env(stack, pg_schema, signing_seed)
    fixed, gone = records[1], records[3]
    corrected = run_cli(
        "provenance", "correct", fixed.record_id, "--values", '{"soil_moisture": 42.5}',
        "--reason", "probe recalibrated", env=env,
    )  # fmt: skip
    assert corrected.returncode == 0, corrected.stderr
    erased = run_cli(
        "provenance", "erase", gone.record_id, "--legal-basis", "Art. 30 objection 2026-17",
        env=env,
    )  # fmt: skip
    assert erased.returncode == 0, erased.stderr

    with psycopg.connect(stack.pg_dsn) as conn:
        current: dict[str, float] = dict(
            conn.execute(
                sql.SQL("SELECT record_id, soil_moisture FROM {}").format(
                    sql.Identifier(pg_schema, "agri_soil_current")
                )
            ).fetchall()
        )
        original = conn.execute(
            sql.SQL("SELECT soil_moisture FROM {} WHERE record_id = %s").format(
                sql.Identifier(pg_schema, "agri_soil")
            ),
            (fixed.record_id,),
        ).fetchone()
    assert current[fixed.record_id] == 42.5
    assert gone.record_id not in current
    assert len(current) == 5
    assert original is not None
    assert original[0] == fixed.values["soil_moisture"]

    proof_file = tmp_path / "orig.json"
    assert (
        run_cli(
            "provenance", "prove", fixed.record_id, "--out", str(proof_file), env=env
        ).returncode
        == 0
    )
    proof = json.loads(proof_file.read_text())
    assert proof["record"]["soil_moisture"] == fixed.values["soil_moisture"]
    assert [c["event"]["action"] for c in proof["corrections"]] == ["correct"]
    assert run_cli("provenance", "verify-proof", str(proof_file), env={}).returncode == 0
    verified = run_cli("provenance", "verify", env=env)
    assert verified.returncode == 0, verified.stdout
