"""Generated per-dataset DDL on both storage paths."""

from __future__ import annotations

import pytest

from processors.catalog import Catalog
from processors.exceptions import ConfigurationError
from processors.storage.ddl import dataset_ddl, ident


def _script(catalog: Catalog, code: str, timescale: bool) -> str:
    entry = catalog.get(code)
    assert entry is not None
    return ";\n".join(dataset_ddl(entry, "sensegate", timescale=timescale))


def test_plain_path_partitions_and_uses_date_bin(catalog: Catalog) -> None:
    ddl = _script(catalog, "agri_soil", timescale=False)
    assert "PARTITION BY RANGE (observed_at)" in ddl
    assert "UNIQUE (record_id, observed_at)" in ddl
    assert '"soil_moisture" double precision' in ddl
    assert '"f_cnt" bigint' in ddl
    assert "date_bin(INTERVAL '1 hour'" in ddl
    assert "create_hypertable" not in ddl
    assert 'CREATE VIEW "agri_soil_current"' in ddl


def test_timescale_path_has_policies_and_continuous_aggregate(catalog: Catalog) -> None:
    ddl = _script(catalog, "agri_soil", timescale=True)
    entry = catalog.get("agri_soil")
    assert entry is not None
    assert "PARTITION BY" not in ddl
    assert "create_hypertable('\"sensegate\".\"agri_soil\"', 'observed_at'" in ddl
    assert "timescaledb.compress_segmentby = 'entity_id'" in ddl
    assert f"INTERVAL '{entry.retention_days} days'" in ddl
    assert "WITH (timescaledb.continuous" in ddl
    assert "time_bucket(INTERVAL '1 hour', observed_at)" in ddl


def test_rollup_only_where_the_catalog_asks(catalog: Catalog) -> None:
    for entry in catalog.entries.values():
        for timescale in (False, True):
            ddl = ";".join(dataset_ddl(entry, "s", timescale=timescale))
            assert (f'"{entry.storage_table}_hourly"' in ddl) == entry.hourly_rollup


@pytest.mark.parametrize("name", ["Agri", "a-b", "x;drop", "", "1abc"])
def test_identifiers_are_checked(name: str) -> None:
    with pytest.raises(ConfigurationError):
        ident(name)
