"""Erasure of a data subject on real PostgreSQL and Kafka: nothing of the subject stays readable in
the database, the share topic's latest value per key is a tombstone, and the log still verifies.

Rows are stored through the sink (which logs a personal dataset's rows with a salted commitment
under a per-subject key); ``provenance erase-subject`` then destroys the key and the values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from processors.provenance.personal import commitment, subject_ref
from processors.provenance.rowdocs import data_columns, data_row_doc
from processors.share.deidentify import time_bucket
from processors.sinks.config import ProvenanceConfig
from processors.storage.ddl import erasable_columns
from stack.credentials import Addresses
from tests.fixtures.services import StackAddresses
from tests.fixtures.share_data import participant_records
from tests.fixtures.storage import run_cli
from tests.integration.erasure.helpers import as_pipeline, scan_db
from tests.integration.objections.helpers import (
    cli,
    latest_by_key,
    read_topic,
    stored_and_shared,
)


async def test_erase_subject_leaves_nothing_readable_and_verify_passes(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    tmp_path: Path,
) -> None:
    start = time_bucket(datetime.now(UTC) - timedelta(hours=1), 300)
    rows = as_pipeline(participant_records(start, vehicles=12, steps=3))
    kafka, env = await stored_and_shared(
        stack, pg_schema, catalog, provenance_config, signing_seed, rows
    )
    prefix = kafka.topic_prefix
    # Each step as the role an operator would use (docs/operations.md): the auditor verifies and
    # proves, the registry administrator erases, the objection service publishes (env).
    roles = Addresses.from_state(stack.state)
    auditor = {**env, "SENSEGATE_DB__DSN": roles.dsn("auditor")}
    admin = {**env, "SENSEGATE_DB__DSN": roles.dsn("registry")}
    assert run_cli("provenance", "verify", env=auditor).returncode == 0

    subject = str(rows[3 * 5].values["ptc_id"])
    mine = [r for r in rows if r.values["ptc_id"] == subject]
    others = [r for r in rows if r.values["ptc_id"] != subject]
    assert len(mine) == 3
    secrets: set[str] = {subject} | {repr(r.values[k]) for r in mine for k in ("lat", "lon")}
    before = scan_db(stack.pg_dsn, pg_schema)
    assert all(s in before for s in secrets), "the scan does not see the stored values"

    # Neither a plain update nor a forged erasure flag may touch a dataset row.
    with psycopg.connect(stack.pg_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(pg_schema)))
        conn.execute("SET sg.erasure = 'on'")
        conn.execute("UPDATE v2x_participant SET lat = NULL WHERE ptc_id = %s", (subject,))

    done = run_cli(
        "provenance", "erase-subject", "v2x_participant", subject,
        "--legal-basis", "PIPL Art. 47; request 2026-0042", env=admin,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    erased = json.loads(done.stdout.split("\nkey destroyed")[0])
    assert sorted(erased["records"]) == sorted(r.record_id for r in mine)

    after = scan_db(stack.pg_dsn, pg_schema)
    found = sorted(s for s in secrets if s in after)
    assert not found, f"personal values of the erased subject still readable: {found}"
    assert any(repr(r.values["lat"]) in after for r in others)  # the others are untouched
    with psycopg.connect(stack.pg_dsn) as conn:
        keys = conn.execute(
            sql.SQL("SELECT count(*) FILTER (WHERE data_key IS NULL), count(*) FROM {}.pi_subject_key")
            .format(sql.Identifier(pg_schema))
        ).fetchone()  # fmt: skip
    assert keys == (1, 12)  # one key destroyed, the eleven other subjects' keys live

    verified = run_cli("provenance", "verify", env=auditor)
    assert verified.returncode == 0, verified.stdout
    proof_file = tmp_path / "proof.json"
    proved = run_cli(
        "provenance", "prove", mine[0].record_id, "--out", str(proof_file), env=auditor
    )
    assert proved.returncode == 0, proved.stderr
    proof = json.loads(proof_file.read_text())
    assert proof["erased"] is True
    assert [c["event"]["action"] for c in proof["corrections"]] == ["erase"]
    assert "lat" not in proof["record"] and "ptc_id" not in proof["record"]
    assert len(proof["record"]["_pi"]) == 64  # the salted commitment, which nothing opens now
    assert run_cli("provenance", "verify-proof", str(proof_file), env={}).returncode == 0

    # Downstream: the erasures are withdrawn on the share topic (a tombstone per record key).
    published = cli(env, "publish")
    assert published.returncode == 0, published.stderr
    share = latest_by_key(await read_topic(kafka, f"{prefix}share.v2x_participant"))
    assert all(share[r.record_id].value is None for r in mine)
    assert all(share[r.record_id].value is not None for r in others)

    # An "erasure" without its signed event (a role that can write pi_erased and null columns, and
    # read the subject's key) is reported, even though the commitment itself is right.
    victim = others[0]
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(pg_schema)))
        (key,) = conn.execute(
            "SELECT data_key FROM pi_subject_key WHERE subject_ref = %s AND data_key IS NOT NULL",
            (subject_ref("v2x_participant", str(victim.values["ptc_id"])),),
        ).fetchone() or (None,)
        entry = catalog.get("v2x_participant")
        assert key is not None and entry is not None
        row = conn.execute(
            sql.SQL("SELECT {} FROM v2x_participant WHERE record_id = %s").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in data_columns(entry))
            ),
            (victim.record_id,),
        ).fetchone()
        assert row is not None
        commit = commitment(
            bytes(key), victim.record_id, data_row_doc(entry, row), erasable_columns(entry)
        )
        conn.execute(
            "INSERT INTO pi_erased VALUES (%s, %s, %s, %s, 'no-such-event', now())",
            ("v2x_participant", victim.record_id, row[0], commit),
        )
    forged = run_cli("provenance", "verify", env=auditor)
    assert forged.returncode == 1
    assert "without a signed erasure event" in forged.stdout

    again = run_cli(
        "provenance", "erase-subject", "v2x_participant", subject, "--legal-basis", "x", env=admin
    )
    assert again.returncode != 0
    assert "no stored v2x_participant rows" in again.stderr
