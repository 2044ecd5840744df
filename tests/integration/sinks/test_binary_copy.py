"""Binary COPY (the sink's path) stores what the former text COPY stored, with the same log leaves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from contracts.dead_letter import DeadLetter
from contracts.record import DatasetRecord, GeoPoint
from processors.catalog import Catalog
from processors.provenance.rowdocs import PROVENANCE_COLUMNS, data_columns, data_row_doc
from processors.provenance.verify import verify_store
from processors.sinks.base import SinkInput
from processors.sinks.config import ProvenanceConfig
from processors.sinks.timescale import TimescaleSink, connect
from processors.storage.migrate import migrate
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses

TOPIC = "t.data.agri_soil"
NOW = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)
LEAF = "kind, dataset, ref_id, observed_at, source, chain_seq, row_sha256, chain_prev, leaf_hash"


async def _no_letters(letters: Sequence[DeadLetter]) -> None:
    assert not letters


def _batch() -> list[DatasetRecord]:
    """Rows with a location, without one, with an elevation, a missing item and awkward text."""
    out = []
    for i, r in enumerate(soil_records(60, devices=4)):
        if i % 3 == 0:
            r = r.model_copy(update={"location": None})  # noqa: PLW2901
        elif i % 3 == 1:
            r = r.model_copy(update={"location": GeoPoint(lat=-1.5, lon=2.25, elevation_m=1e-7)})  # noqa: PLW2901
        if i % 5 == 0:
            values = {k: v for k, v in r.values.items() if k != "battery"}
            r = r.model_copy(update={"values": values, "quality": ("a\tb", "ok", "é\\")})  # noqa: PLW2901
        out.append(r)
    return out


def _dump(dsn: str, schema: str, catalog: Catalog) -> tuple[list[Any], list[Any], list[Any]]:
    entry = catalog.entries["agri_soil"]
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        cols = sql.SQL(", ").join(map(sql.Identifier, data_columns(entry)))
        rows = conn.execute(
            sql.SQL("SELECT {} FROM agri_soil ORDER BY record_id").format(cols)
        ).fetchall()
        prov_cols = sql.SQL(", ").join(map(sql.Identifier, PROVENANCE_COLUMNS))
        prov = conn.execute(
            sql.SQL("SELECT {} FROM provenance ORDER BY provenance_id").format(prov_cols)
        ).fetchall()
        leaves = conn.execute(
            f"SELECT {LEAF} FROM tlog_leaf ORDER BY leaf_index"  # noqa: S608
        ).fetchall()
    docs = [data_row_doc(entry, r) for r in rows]
    return docs, prov, leaves


async def test_binary_and_text_copy_store_the_same_rows_and_leaves(
    stack: StackAddresses,
    pg_schema: str,
    unique_name: Callable[[str], str],
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
) -> None:
    text_schema = unique_name("t")[:60]
    migrate(stack.pg_dsn, text_schema, catalog, mode="plain")
    try:
        batch = _batch()
        for schema, binary in ((pg_schema, True), (text_schema, False)):
            sink = TimescaleSink(
                dsn=stack.pg_dsn, schema=schema, catalog=catalog, group_id="g",
                topic_prefix="t.", dead_letters=_no_letters, provenance=provenance_config,
                binary_copy=binary, clock=lambda: NOW,
            )  # fmt: skip
            async with sink:
                for i, r in enumerate(batch):
                    sink.add(SinkInput(TOPIC, 0, i, r.to_kafka_value(), r.kafka_key()))
                assert (await sink.flush()).stored == len(batch)
        binary_dump = _dump(stack.pg_dsn, pg_schema, catalog)
        text_dump = _dump(stack.pg_dsn, text_schema, catalog)
        assert len(binary_dump[0]) == len(batch) and len(binary_dump[2]) == 2 * len(batch)
        assert binary_dump == text_dump  # canonical rows, provenance rows and leaves alike
        aconn = await connect(stack.pg_dsn, pg_schema, "binary-copy-verify")
        async with aconn:
            report = await verify_store(aconn, catalog, [], now=datetime.now(UTC))
        assert report.ok, report.findings
    finally:
        with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
            conn.execute(drop.format(sql.Identifier(text_schema)))
