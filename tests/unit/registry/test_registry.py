"""Device model, CSV import format, catalog checks and in-memory lookup."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import processors.registry as registry_pkg
from processors.catalog import load_catalog
from processors.registry import (
    CSV_HEADER,
    Device,
    DeviceRegistry,
    device_problems,
    industrial_id_problem,
    load_devices_yaml,
    parse_devices_csv,
)

HEADER = ",".join(CSV_HEADER)


def agri(device_id: str = "a840410000000009", **kw: object) -> Device:
    doc: dict[str, object] = {
        "family": "agri",
        "device_id": device_id,
        "provider": "jl_agri_bureau",
        "datasets": ("agri_soil",),
    }
    doc.update(kw)
    return Device.model_validate(doc)


def test_public_names() -> None:
    assert {"Device", "DeviceRegistry"} <= set(registry_pkg.__all__)
    assert all(hasattr(registry_pkg, n) for n in registry_pkg.__all__)


@pytest.mark.parametrize(
    ("family", "device_id", "fragment"),
    [
        ("agri", "A840410000000001", "16 lower-case hex"),
        ("agri", "a84041", "16 lower-case hex"),
        ("iiot", "JilinPlant", "<group>/<edge_node>"),
        ("iiot", "a/b/c/d", "<group>/<edge_node>"),
        ("iiot", "a/+/c", "<group>/<edge_node>"),
        ("v2x", "RSU/1", "one MQTT topic level"),
        ("v2x", "", "at least 1 character"),
    ],
)
def test_device_ids_per_family(family: str, device_id: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("+", r"\+")):
        Device(family=family, device_id=device_id, provider="p", datasets=("x",))


def test_device_field_rules() -> None:
    with pytest.raises(ValidationError, match="v2x devices only"):
        agri(v2x_edition="csae53-2019")
    with pytest.raises(ValidationError, match="lat and lon"):
        agri(lat=43.0)
    with pytest.raises(ValidationError, match="repeat"):
        agri(datasets="agri_soil;agri_soil")
    assert agri(datasets="agri_soil; agri_weather").datasets == ("agri_soil", "agri_weather")


def test_catalog_checks() -> None:
    catalog = load_catalog()
    assert device_problems(agri(), catalog) == []
    wrong_provider = agri(provider="jl_traffic_police")
    assert "not the catalog provider of 'agri_soil'" in device_problems(wrong_provider, catalog)[0]
    unknown = agri(datasets=("agri_compost",))
    assert "not in the catalog" in device_problems(unknown, catalog)[0]
    wrong_family = agri(datasets=("v2x_participant",), provider="jl_traffic_police")
    assert "fed by v2x devices" in device_problems(wrong_family, catalog)[0]
    bad_id = Device(
        family="iiot",
        device_id="G/E",
        provider="jl_industry_dept",
        datasets=("iiot_metric",),
        industrial_id="not-a-handle",
    )
    assert "industrial id" in " ".join(device_problems(bad_id, catalog))
    rsu = Device(
        family="v2x",
        device_id="R1",
        provider="jl_traffic_police",
        datasets=("v2x_signal_phase",),
        v2x_edition="csae53-1999",
    )
    assert "v2x_edition" in " ".join(device_problems(rsu, catalog))


def test_industrial_id_fallback() -> None:
    assert industrial_id_problem("88.102.7/press-07") is None
    assert industrial_id_problem("press-07") is not None


def test_shipped_registry_file_is_valid() -> None:
    devices, problems = load_devices_yaml()
    assert problems == []
    catalog = load_catalog()
    assert {d.family for d in devices} == {"v2x", "agri", "iiot"}
    assert [p for d in devices for p in device_problems(d, catalog)] == []


def test_csv_import_round_trip() -> None:
    devices, _ = load_devices_yaml()
    lines = [HEADER] + [",".join(f'"{v}"' for v in d.to_row().values()) for d in devices]
    parsed, problems = parse_devices_csv("\n".join(lines) + "\n")
    assert problems == []
    assert parsed == list(devices)


def test_csv_problems_name_lines() -> None:
    text = "\n".join(
        [
            HEADER,
            "agri,a840410000000001,jl_agri_bureau,agri_soil,lpp,,false,,44.1,125.1",
            "agri,XYZ,jl_agri_bureau,agri_soil,lpp,,false,,,",
            "v2x,R1,jl_traffic_police,v2x_signal_phase,uper,csae53-2019,maybe,,,",
            "agri,a840410000000001,jl_agri_bureau,agri_soil,lpp,,false,,,",
        ]
    )
    devices, problems = parse_devices_csv(text)
    assert len(devices) == 1
    assert problems[0].startswith("line 3:") and "hex" in problems[0]
    assert problems[1].startswith("line 4:") and "true or false" in problems[1]
    assert problems[2].startswith("line 5:") and "repeated" in problems[2]
    _, header_problems = parse_devices_csv("family,device\nagri,x\n")
    assert "CSV header must be" in header_problems[0]


def test_lookup_and_sparkplug_node_coverage() -> None:
    node = Device(
        family="iiot", device_id="G/E1", provider="jl_industry_dept", datasets=("iiot_metric",)
    )
    reg = DeviceRegistry([node, agri()])
    assert reg.lookup("iiot", "G/E1") == node
    assert reg.lookup("iiot", "G/E1/pump-3") == node
    assert reg.lookup("iiot", "G/E2/pump-3") is None
    assert reg.lookup("agri", "a840410000000009") is not None
    assert reg.lookup("v2x", "a840410000000009") is None
    assert len(reg) == 2 and len(reg.devices()) == 2


async def test_registry_without_database_serves_the_file() -> None:
    async with DeviceRegistry.from_file() as reg:
        assert reg.lookup("v2x", "JL-CC-0007") is not None
        assert reg.generation == 0
