"""Shared helpers of the provenance integration tests: store records through the sink."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.dead_letter import DeadLetter
from contracts.record import DatasetRecord
from processors.catalog import Catalog
from processors.sinks.base import FlushResult, SinkInput
from processors.sinks.config import ProvenanceConfig
from processors.sinks.timescale import TimescaleSink


async def store(
    dsn: str,
    schema: str,
    catalog: Catalog,
    records: Sequence[DatasetRecord],
    provenance: ProvenanceConfig,
    *,
    prefix: str = "t.",
    partition: int = 0,
    first_offset: int = 0,
) -> FlushResult:
    """Store ``records`` in one flush (offsets from ``first_offset``) and checkpoint."""
    letters: list[DeadLetter] = []

    async def collect(batch: Sequence[DeadLetter]) -> None:
        letters.extend(batch)

    sink = TimescaleSink(
        dsn=dsn, schema=schema, catalog=catalog, group_id="g", topic_prefix=prefix,
        dead_letters=collect, provenance=provenance,
    )  # fmt: skip
    async with sink:
        for i, rec in enumerate(records):
            sink.add(
                SinkInput(f"{prefix}data.{rec.dataset}", partition, first_offset + i,
                          rec.to_kafka_value())
            )  # fmt: skip
        result = await sink.flush()
        await sink.checkpoint()
    return result
