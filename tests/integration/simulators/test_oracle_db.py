"""The oracle finds a row removed from the database and a duplicated row (tampered on purpose)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from simulators import FleetConfig, SimMessage, VerifyOptions, generate, verify_async
from simulators.oracle import LogEntry
from tests.fixtures.services import StackAddresses


def _q(template: str, schema: str) -> sql.Composed:
    return sql.SQL(template).format(sql.Identifier(schema))


@pytest.fixture
def schema(stack: StackAddresses, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("oracle")[:60]
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(_q("CREATE SCHEMA {}", name))
        conn.execute(
            _q(
                "CREATE TABLE {}.provenance (provenance_id text PRIMARY KEY, raw_sha256 text NOT NULL)",
                name,
            )
        )
        conn.execute(
            _q(
                "CREATE TABLE {0}.soil (record_id text NOT NULL, "
                "provenance_id text NOT NULL REFERENCES {0}.provenance (provenance_id))",
                name,
            )
        )
    yield name
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(_q("DROP SCHEMA {} CASCADE", name))


async def test_oracle_detects_deleted_and_duplicated_rows(
    stack: StackAddresses, schema: str, tmp_path: Path
) -> None:
    config = FleetConfig(
        families=("agri",),
        devices=4,
        rate=20,
        duration_s=2.0,
        seed=9,
        start_ms=1767225600000,
        options={"agri_encoding": "json"},
    )
    msgs = [
        m for m in generate(config) if isinstance(m, SimMessage) and m.datasets == ("agri_soil",)
    ]
    log = tmp_path / "run.log"
    log.write_text(
        "".join(
            LogEntry(
                f"m{i}", m.device_id, "agri", m.datasets, "data", m.sha256, "ok", 1, 2
            ).to_json()
            + "\n"
            for i, m in enumerate(msgs)
        )
    )
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        for i, m in enumerate(msgs):
            conn.execute(
                _q("INSERT INTO {}.provenance VALUES (%s, %s)", schema), (f"p{i}", m.sha256)
            )
            conn.execute(_q("INSERT INTO {}.soil VALUES (%s, %s)", schema), (f"r{i}", f"p{i}"))
    options = VerifyOptions(
        bootstrap=None, dsn=stack.pg_dsn, schema=schema, tables={"agri_soil": "soil"}
    )
    clean = await verify_async(log, options)
    assert clean.ok and clean.groups["agri_soil"].stored == len(msgs) > 10, clean.render()
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(_q("DELETE FROM {}.soil WHERE record_id = %s", schema), ("r3",))
        conn.execute(_q("INSERT INTO {}.soil VALUES (%s, %s)", schema), ("r5", "p5"))
    tampered = await verify_async(log, options)
    soil = tampered.groups["agri_soil"]
    assert (soil.lost, soil.duplicated) == (1, 1)
    assert tampered.lost_ids == ["m3"] and tampered.duplicated_keys == ["agri_soil:r5"]
    assert not tampered.ok
    assert json.loads(json.dumps(tampered.to_dict()))["ok"] is False
