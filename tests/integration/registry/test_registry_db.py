"""Device registry against the real PostgreSQL: live refresh without restart, CLI add/remove/import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from contracts.settings import DbConfig
from processors.__main__ import main
from processors.registry import (
    CSV_HEADER,
    Device,
    DeviceRegistry,
    delete_device,
    fetch_devices,
    upsert_devices,
)
from processors.storage.connect import run_with_connection
from tests.fixtures.services import StackAddresses


@pytest.fixture
def schema(stack: StackAddresses, unique_name: Callable[[str], str]) -> Iterator[str]:
    name = unique_name("reg")
    yield name
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def soil(device_id: str) -> Device:
    return Device(
        family="agri", device_id=device_id, provider="jl_agri_bureau", datasets=("agri_soil",)
    )


async def until(reg: DeviceRegistry, predicate: Callable[[], bool]) -> None:
    """Wait for reloads until ``predicate`` holds (bounded so a broken refresh fails, not hangs)."""
    async with asyncio.timeout(30):
        while not predicate():
            await reg.wait_for_generation(reg.generation + 1)


async def test_changes_reach_a_running_registry(stack: StackAddresses, schema: str) -> None:
    db = DbConfig(dsn=stack.pg_dsn, schema_name=schema)
    # A long polling interval: only the NOTIFY path can make the test pass quickly.
    async with DeviceRegistry.from_file(db=db, refresh_interval_s=60) as reg:
        assert reg.generation >= 1
        assert reg.lookup("v2x", "JL-CC-0007") is not None  # from the registry file
        assert reg.lookup("agri", "ab00000000000001") is None
        async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
            await upsert_devices(conn, [soil("ab00000000000001")], schema=schema)
        await until(reg, lambda: reg.lookup("agri", "ab00000000000001") is not None)

        # The database overrides the file for the same device.
        override = Device(
            family="v2x",
            device_id="JL-CC-0007",
            provider="jl_traffic_police",
            datasets=("v2x_signal_phase",),
        )
        async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
            await upsert_devices(conn, [override], schema=schema)
        await until(reg, lambda: reg.lookup("v2x", "JL-CC-0007") == override)

        async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
            assert await delete_device(conn, "agri", "ab00000000000001", schema)
            assert not await delete_device(conn, "agri", "ab00000000000001", schema)
        await until(reg, lambda: reg.lookup("agri", "ab00000000000001") is None)


def test_cli_add_show_import_remove(
    stack: StackAddresses,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SENSEGATE_DB__DSN", stack.pg_dsn)
    monkeypatch.setenv("SENSEGATE_DB__SCHEMA_NAME", schema)
    assert main(
        ["devices", "add", "agri", "ab00000000000002", "--datasets", "agri_weather", "--no-broker"]
    ) == 0
    assert main(["devices", "show", "agri", "ab00000000000002"]) == 0
    assert '"provider": "jl_agri_bureau"' in capsys.readouterr().out
    # Wrong provider for the dataset: refused, nothing written.
    assert (
        main(
            [
                "devices",
                "add",
                "agri",
                "ab00000000000003",
                "--datasets",
                "agri_soil",
                "--provider",
                "jl_traffic_police",
            ]
        )
        == 1
    )
    assert "not the catalog provider" in capsys.readouterr().err

    good = tmp_path / "fleet.csv"
    rows = [",".join(CSV_HEADER)]
    rows += [f"agri,ac{i:014x},jl_agri_bureau,agri_soil,lpp,,false,,44.1,125.2" for i in range(50)]
    rows.append("iiot,Plant/edge-1,jl_industry_dept,iiot_metric,sparkplug_b,,false,88.1.2/x,,")
    rows.append(
        "v2x,RSU-9,jl_traffic_police,v2x_participant;v2x_signal_phase,uper,csae53-2019,true,,,"
    )
    good.write_text("\n".join(rows) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\n".join([*rows, "agri,ad00000000000001,jl_industry_dept,agri_soil,,,false,,,"])
    )
    assert main(["devices", "import", str(bad)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert len(run_with_connection(stack.pg_dsn, lambda conn: fetch_devices(conn, schema))) == 1
    assert main(["devices", "import", str(good), "--no-broker"]) == 0
    assert "imported 52 devices" in capsys.readouterr().out
    stored = {
        d.key: d for d in run_with_connection(stack.pg_dsn, lambda c: fetch_devices(c, schema))
    }
    assert len(stored) == 53
    assert stored[("v2x", "RSU-9")].v2x_framing is True
    assert stored[("v2x", "RSU-9")].datasets == ("v2x_participant", "v2x_signal_phase")

    assert main(["devices", "list", "--family", "iiot"]) == 0
    listing = capsys.readouterr().out
    assert "Plant/edge-1" in listing and "[db]" in listing and "[file]" in listing
    # Registry CRUD only: broker credentials are tested in tests/integration/security.
    assert main(["devices", "remove", "iiot", "Plant/edge-1", "--no-broker"]) == 0
    assert main(["devices", "remove", "iiot", "Plant/edge-1", "--no-broker"]) == 1
    assert main(["devices", "sync"]) == 0
    assert "synced 9 devices" in capsys.readouterr().out


async def test_device_table_checks_the_family_name_shape_not_the_family_set(
    stack: StackAddresses, schema: str
) -> None:
    # The family set lives in contracts/families (the Device model checks it); the table only
    # refuses what cannot be a family name, so a new family needs no migration.
    insert = sql.SQL(
        "INSERT INTO {}.device (family, device_id, provider, datasets) VALUES (%s, 'd1', 'p', %s)"
    ).format(sql.Identifier(schema))
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        await upsert_devices(conn, [soil("ab00000000000002")], schema=schema)
        await conn.execute(insert, ("wx", ["wx_observation"]))
        await conn.commit()
        # A family this build does not register is skipped on load, not fatal to the registry.
        assert [d.key for d in await fetch_devices(conn, schema)] == [("agri", "ab00000000000002")]
        with pytest.raises(psycopg.errors.CheckViolation, match="device_family_name"):
            await conn.execute(insert, ("Bad Name", ["x"]))
