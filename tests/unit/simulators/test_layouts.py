"""The simulated probe models agree with their profiles, and the fleet passes the value check."""

from __future__ import annotations

import json
import time

from pydantic import SecretStr

from processors.catalog import load_catalog
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from processors.profiles import load_profiles
from processors.registry import Device, DeviceRegistry
from simulators import FleetConfig, SimMessage, generate, registry_csv
from simulators.agri import LAYOUTS
from simulators.oracle_values import value_mismatches
from tests.fixtures.normalize import raw_record


def test_layouts_match_their_profiles() -> None:
    profiles = {p.name: p for p in load_profiles()}
    for name, layout in LAYOUTS.items():
        profile = profiles[name]
        wire = {(f.key, f.lpp_type, f.item) for f in layout.fields}
        declared = {(f.channel if f.channel is not None else f.path, f.type, f.item)
                    for f in profile.fields}  # fmt: skip
        assert wire == declared, name


def test_fleet_through_normalize_stores_every_value_in_its_item() -> None:
    config = FleetConfig(
        families=("agri",), devices=12, rate=40, duration_s=6, seed=3,
        start_ms=int(time.time() * 1000) - 10_000,
    )  # fmt: skip
    import csv
    import io

    devices = [
        Device.model_validate({k: (v if v != "" else None) for k, v in row.items()})
        for row in csv.DictReader(io.StringIO(registry_csv(config)))
    ]
    catalog = load_catalog()
    proc = NormalizeProcessor(
        catalog=catalog,
        registry=DeviceRegistry(devices),
        mappers={"agri": AgriMapper(catalog=catalog)},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("s" * 24)}, "k1"),
        quality=QualityConfig(max_age_s=1e9),
    )
    msgs = [m for m in generate(config) if isinstance(m, SimMessage) and m.expected_values]
    assert len({json.loads(m.payload)["deviceInfo"]["deviceProfileName"] for m in msgs}) >= 6
    result = proc.process(
        [raw_record(m.payload, device_id=m.device_id, offset=i) for i, m in enumerate(msgs)]
    )
    assert not result.dead_letters, result.dead_letters[:3]
    stored: dict[str, dict[str, dict[str, object]]] = {}
    for r in result.records:
        stored.setdefault(r.dataset, {})[r.provenance.raw_sha256] = dict(r.values)
    expected = [
        (m.sha256, d, items) for m in msgs for d, items in (m.expected_values or {}).items()
    ]
    assert value_mismatches(expected, stored) == {}
    assert sum(len(v) for v in stored.values()) == len(msgs)
