"""Log leaves whose text needs COPY escaping are stored verbatim and verify."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg import sql

from processors.catalog import Catalog
from processors.provenance.verify import verify_store
from processors.sinks.config import ProvenanceConfig
from processors.sinks.timescale import connect
from tests.fixtures.records import soil_record
from tests.fixtures.services import StackAddresses
from tests.integration.provenance.helpers import store

AWKWARD = "dev\t\\N\\x\ny\r,é 土"


async def test_awkward_source_text_survives_the_leaf_copy(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    records = [soil_record(i, device=AWKWARD) for i in range(3)]
    result = await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config)
    assert result.stored == 3
    with psycopg.connect(stack.pg_dsn) as conn:
        sources = conn.execute(
            sql.SQL("SELECT DISTINCT source FROM {}").format(sql.Identifier(pg_schema, "tlog_leaf"))
        ).fetchall()
    assert sources == [(AWKWARD,)]
    conn2 = await connect(stack.pg_dsn, pg_schema, "verify-test")
    async with conn2:
        report = await verify_store(conn2, catalog, [], now=datetime.now(UTC))
    assert report.ok, report.findings
    assert report.leaves == 6
