"""B09: a record carrying NUL in a text value, in the middle of a batch of good ones.

PostgreSQL text cannot hold NUL: written as is, the one row would fail its whole batch, and the
batch would be retried forever. The sink must refuse that row alone (``data_rejected``, dead
letter) and store the rest of the batch. Real Kafka and PostgreSQL of the test stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from contracts.dead_letter import ReasonCode
from processors.catalog import Catalog
from tests.fixtures.records import soil_record, soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.sinks.helpers import (
    count_rows,
    produce,
    read_dead_letters,
    running_sink,
    sink_settings,
    wait_until,
)

pytestmark = pytest.mark.fault


async def test_b09_nul_in_text_is_dead_lettered_and_the_batch_stored(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    unique_name: Callable[[str], str],
    signing_seed: str,
) -> None:
    """100 good records around two whose device id holds NUL: 100 rows, 2 dead letters."""
    prefix = unique_name("p") + "."
    settings = sink_settings(
        bootstrap=stack.kafka_bootstrap, dsn=stack.pg_dsn, schema=pg_schema, prefix=prefix,
        group=unique_name("g"), seed=signing_seed, batch=500,
    )  # fmt: skip
    good = list(soil_records(100))
    bad = [
        soil_record(1000, device="a1b2c3d4\x00e5f60001"),
        soil_record(1001, device="\x00a1b2c3d4e5f6000"),
    ]
    await produce(stack.kafka_bootstrap, prefix, [*good[:50], *bad, *good[50:]])  # one batch
    async with running_sink(settings, catalog):
        await wait_until(lambda: count_rows(stack.pg_dsn, pg_schema)[0] >= 100, limit_s=90)
        await asyncio.sleep(1.0)
    assert count_rows(stack.pg_dsn, pg_schema) == (100, 100)
    letters = await read_dead_letters(stack.kafka_bootstrap, prefix)
    print("B09 dead letters:", [(d.reason.value, d.detail) for d in letters])
    assert len(letters) == 2
    assert {d.reason for d in letters} == {ReasonCode.DATA_REJECTED}
    assert all("NUL" in d.detail for d in letters)
