"""Corrections of personal records sign a commitment of their personal values, not the values.

On real PostgreSQL: a correction of a ``v2x_participant`` record signs and logs ``_pi`` in place of
the personal items; the plain values stay in ``new_values`` for the current view. ``verify`` checks
them against the commitment while the subject key lives, and the correction's guard lets an
erasure remove those members and nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from processors.share.deidentify import time_bucket
from processors.sinks.config import ProvenanceConfig
from stack.credentials import Addresses
from tests.fixtures.services import StackAddresses
from tests.fixtures.share_data import participant_records
from tests.fixtures.storage import run_cli
from tests.integration.erasure.helpers import as_pipeline
from tests.integration.objections.helpers import stored_and_shared

NEW_LAT = 43.8712345


async def test_personal_correction_is_committed_checked_and_guarded(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
) -> None:
    start = time_bucket(datetime.now(UTC) - timedelta(hours=1), 300)
    rows = as_pipeline(participant_records(start, vehicles=3, steps=2))
    _, env = await stored_and_shared(
        stack, pg_schema, catalog, provenance_config, signing_seed, rows
    )
    roles = Addresses.from_state(stack.state)
    auditor = {**env, "SENSEGATE_DB__DSN": roles.dsn("auditor")}
    admin = {**env, "SENSEGATE_DB__DSN": roles.dsn("registry")}
    target = rows[0]
    done = run_cli(
        "provenance", "correct", target.record_id, "--values", json.dumps({"lat": NEW_LAT}),
        "--reason", "position misread", env=admin,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert str(NEW_LAT) not in done.stdout and len(event["new_values"]["_pi"]) == 64
    assert {"lat", "lon", "ptc_id"}.isdisjoint(event["new_values"])
    table = sql.Identifier(pg_schema, "correction")
    with psycopg.connect(stack.pg_dsn) as conn:
        stored = conn.execute(
            sql.SQL("SELECT new_values, body, pi_key_id FROM {} WHERE correction_id = %s").format(
                table
            ),
            (event["correction_id"],),
        ).fetchone()
    assert stored is not None and stored[0]["lat"] == NEW_LAT  # plain, for <table>_current
    assert str(NEW_LAT) not in stored[1] and stored[2]  # the signed body: commitment only
    assert run_cli("provenance", "verify", env=auditor).returncode == 0

    # The guard: even an erasing role may only remove members, never change one.
    with (
        psycopg.connect(roles.dsn("registry")) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SET sg.erasure = 'on'")
        conn.execute(
            sql.SQL("UPDATE {} SET new_values = new_values || '{{\"lat\": 1.5}}' "
                    "WHERE correction_id = %s").format(table),
            (event["correction_id"],),
        )  # fmt: skip

    # A plain value altered behind the guard's back (the owner disables the trigger) is found.
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER correction_append_only").format(table))
        conn.execute(
            sql.SQL("UPDATE {} SET new_values = new_values || '{{\"lat\": 43.0}}' "
                    "WHERE correction_id = %s").format(table),
            (event["correction_id"],),
        )  # fmt: skip
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER correction_append_only").format(table))
    altered = run_cli("provenance", "verify", env=auditor)
    assert altered.returncode == 1
    assert "personal values differ from their commitment" in altered.stdout
