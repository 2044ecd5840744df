"""Witnesses: a log that only grew passes the check; a rewritten, re-signed history is caught."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg
from psycopg import sql

from processors.catalog import Catalog
from processors.sinks.config import ProvenanceConfig
from processors.storage.migrate import migrate
from runtime.kafka_client import config_for
from tests.fixtures.records import soil_record, soil_records
from tests.fixtures.services import StackAddresses
from tests.fixtures.storage import run_cli
from tests.integration.objections.helpers import read_topic
from tests.integration.provenance.helpers import store


async def test_witness_detects_rewritten_history(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    tmp_path: Path,
) -> None:
    prefix = f"w{hashlib.sha256(pg_schema.encode()).hexdigest()[:12]}."
    env = {
        "SENSEGATE_DB__DSN": stack.pg_dsn,
        "SENSEGATE_DB__SCHEMA_NAME": pg_schema,
        "SENSEGATE_PROVENANCE__SIGNING_KEY": signing_seed,
        "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "SENSEGATE_KAFKA__TOPIC_PREFIX": prefix,
    }
    witness = tmp_path / "witness.jsonl"
    first = list(soil_records(8))
    await store(stack.pg_dsn, pg_schema, catalog, first, provenance_config)
    exported = run_cli("provenance", "witness-export", "--out", str(witness), "--publish", env=env)
    assert exported.returncode == 0, exported.stderr
    seen = [json.loads(line) for line in witness.read_text().splitlines()]
    assert seen
    assert all(r["format"] == "sensegate-checkpoint/1" for r in seen)
    kafka = config_for(stack.kafka_bootstrap, topic_prefix=prefix)
    published = await read_topic(kafka, f"{prefix}checkpoints")
    assert [json.loads(p.value or b"") for p in published] == seen

    # The log grows: still consistent with everything the witness holds.
    later = list(soil_records(5, start=100))
    await store(stack.pg_dsn, pg_schema, catalog, later, provenance_config, first_offset=100)
    ok = run_cli("provenance", "witness-check", str(witness), env=env)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.startswith("OK")
    old_size = seen[-1]["tree_size"]
    proof = run_cli("provenance", "consistency", str(old_size), str(old_size + 10), env=env)
    assert proof.returncode == 0, proof.stdout + proof.stderr
    doc = json.loads(proof.stdout)
    assert doc["verified"] is True
    assert doc["old_root"] == seen[-1]["root"]
    assert doc["proof"]

    # The operator rewrites history: one stored value changed, the whole log rebuilt and re-signed
    # with the same key. The rebuilt log is internally consistent, so verify alone passes.
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(pg_schema)))
    migrate(stack.pg_dsn, pg_schema, catalog, mode="plain")
    forged = [*first]
    forged[3] = soil_record(3, device=first[3].entity_id, moisture=5.0)
    assert forged[3].record_id == first[3].record_id
    await store(stack.pg_dsn, pg_schema, catalog, forged, provenance_config)
    await store(stack.pg_dsn, pg_schema, catalog, later, provenance_config, first_offset=100)
    assert run_cli("provenance", "verify", env=env).returncode == 0

    caught = run_cli("provenance", "witness-check", str(witness), env=env)
    assert caught.returncode == 1, caught.stdout
    assert "history rewritten" in caught.stdout
