"""The family registry agrees with everything that reads it: routes, mappers, codecs, fleets, catalog.

Every registered family has a gateway route, a mapper decoding with its codec and a simulated
fleet, and no route, mapper module or fleet package exists for a family that is not registered.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.families import (
    FAMILIES,
    FAMILY_NAMES,
    DeviceFamily,
    FamilyRegistry,
    TopicRoute,
    load_reference,
)
from gateway.config import DEFAULT_SUBSCRIPTIONS
from gateway.routing import DEFAULT_ROUTES, Router, filter_matches
from processors.catalog import load_catalog
from processors.normalize import mappers as mappers_pkg
from processors.normalize.mapper_table import MapperConfig, build_mappers
from processors.registry import CSV_HEADER, Device
from simulators import FleetConfig, SimMessage, generate

ROOT = Path(__file__).resolve().parents[3]


def _module_of(reference: str) -> str:
    return reference.partition(":")[0]


def test_every_family_has_routes_and_no_route_is_foreign() -> None:
    assert {r.family for r in DEFAULT_ROUTES} == set(FAMILY_NAMES)
    assert set(DEFAULT_SUBSCRIPTIONS) == {s for f in FAMILIES.values() for s in f.subscriptions}


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_route_is_reachable_through_its_subscriptions(family: str) -> None:
    described = FAMILIES[family]
    for route in described.routes:
        # A topic the route accepts, built from its filter, must reach the gateway.
        topic = "/".join("x" if level in ("+", "#") else level for level in route.filter.split("/"))
        assert any(filter_matches(s, topic) for s in described.subscriptions), route.filter


def test_mapper_table_matches_the_families() -> None:
    built = build_mappers(FAMILY_NAMES, MapperConfig())
    assert list(built) == list(FAMILY_NAMES)
    assert all(mapper.family == family for family, mapper in built.items())
    # No mapper module exists for a family that is not registered.
    modules = {m.name for m in pkgutil.iter_modules(mappers_pkg.__path__)}
    named = {_module_of(f.mapper).rsplit(".", 1)[1] for f in FAMILIES.values()}
    assert modules == named


def _codec_names(module: ModuleType) -> set[str]:
    return {
        str(getattr(value, "name", ""))
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__.startswith("processors.codecs.")
    }


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_each_mapper_decodes_with_the_family_codec(family: str) -> None:
    described = FAMILIES[family]
    module = importlib.import_module(_module_of(described.mapper))
    assert described.codec in _codec_names(module)


def test_fleets_match_the_families() -> None:
    for family in FAMILIES.values():
        fleet = load_reference(family.fleet)
        assert getattr(fleet, "family", None) == family.name
    packages = {
        m.name
        for m in pkgutil.iter_modules([str(ROOT / "simulators")])
        if m.ispkg and (ROOT / "simulators" / m.name / "fleet.py").exists()
    }
    assert packages == {_module_of(f.fleet).split(".")[1] for f in FAMILIES.values()}


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_simulated_topics_route_back_to_their_family_and_device(family: str) -> None:
    router = Router(DEFAULT_ROUTES)
    config = FleetConfig(families=(family,), devices=2, rate=20, duration_s=2, start_ms=10**12)
    messages = [m for m in generate(config) if isinstance(m, SimMessage)]
    assert messages
    for message in messages:
        match = router.route(message.topic)
        assert match is not None, message.topic
        assert (match.family, match.device_id) == (family, message.device_id)
        assert FAMILIES[family].device_id_problem(match.device_id) is None


def test_catalog_and_registry_fields_agree_with_the_families() -> None:
    catalog = load_catalog()
    for family in FAMILY_NAMES:
        assert catalog.for_family(family), f"{family} feeds no dataset"
    for described in FAMILIES.values():
        assert set(described.device_fields) <= set(Device.model_fields) & set(CSV_HEADER)


def test_key_rule_and_ownership() -> None:
    iiot, agri = FAMILIES["iiot"], FAMILIES["agri"]
    assert iiot.kafka_key("g/e/d") == iiot.kafka_key("g/e") == "g/e"
    assert iiot.owner_id("g/e/d") == "g/e"
    assert iiot.owner_id("g/e") is None
    assert iiot.covers("g/e", "g/e/d") and not iiot.covers("g/e", "g/e2/d")
    assert agri.kafka_key("a84041000181c6f1") == "a84041000181c6f1"
    assert agri.owner_id("a84041000181c6f1") is None
    unknown = Envelope(
        payload=b"", topic="t", family="weather", device_id="a/b/c", received_ns=1, gateway_id="g"
    )
    assert unknown.kafka_key() == b"a/b/c"


def _family(**changes: object) -> DeviceFamily:
    doc: dict[str, object] = {
        "name": "weather",
        "summary": "weather stations",
        "subscriptions": ("wx/#",),
        "routes": (TopicRoute(filter="wx/+", device="{1}"),),
        "device_id_pattern": "[a-z]+",
        "device_id_text": "lower-case letters",
        "codec": "wx",
        "mapper": "processors.normalize.mappers.wx:WxMapper",
        "fleet": "simulators.wx:WxFleet",
        "profile_codecs": ("json",),
        "broker_role": "rsu",
    }
    doc.update(changes)
    return DeviceFamily(**doc)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "Weather"}, "topic component"),
        ({"name": "wx.1"}, "topic component"),
        ({"routes": ()}, "at least one"),
        ({"mapper": "processors.wx.WxMapper"}, "module:attribute"),
        ({"key_levels": 0}, "key_levels"),
    ],
)
def test_bad_family_descriptions_are_refused(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        _family(**changes)


def test_registry_refuses_twice_and_names_the_known_families() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        FamilyRegistry(_family(), _family())
    registry = FamilyRegistry(_family())
    assert registry.names == ("weather",)
    assert registry.find("v2x") is None
    with pytest.raises(ValueError, match="unknown family 'v2x'; expected one of weather"):
        registry.checked("v2x")
    with pytest.raises(ValidationError, match="unknown family 'weather'"):
        Device(family="weather", device_id="x", provider="p", datasets=("x",))


def test_load_reference_reports_a_missing_attribute() -> None:
    with pytest.raises(ImportError, match="no attribute 'Nope'"):
        load_reference("contracts.families:Nope")


def test_gateway_and_contracts_do_not_import_processors_or_simulators() -> None:
    code = (
        "import sys, gateway.app, contracts.families, contracts.envelope; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'processors', 'simulators'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_profile_codecs_come_from_the_families() -> None:
    from processors.profiles import CODECS_BY_FAMILY

    assert set(CODECS_BY_FAMILY) == set(FAMILIES)
    assert all(CODECS_BY_FAMILY[name] == FAMILIES[name].profile_codecs for name in FAMILIES)
