"""Loading the shipped catalog, cross-entry rules, the three lists and the guard."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import yaml

import processors.catalog as catalog_pkg
from contracts.dead_letter import ReasonCode
from processors.catalog import (
    CatalogError,
    CatalogGuard,
    DatasetEntry,
    catalog_from_entries,
    compute_list,
    load_catalog,
    parse_entry,
)

CATALOG = Path(__file__).resolve().parents[3] / "catalog"

EXPECTED_ITEMS = {
    "v2x_participant": "rsu_id source_msg ptc_type ptc_id source lat lon elevation speed heading "
    "length width msg_cnt",
    "v2x_signal_phase": "intersection_id phase_id light start_time_s likely_end_time_s "
    "next_duration_s intersection_status msg_cnt",
    "v2x_road_event": "rsu_id kind event_type event_source lat lon radius_m priority description",
    "v2x_intersection": "intersection_id node_name lat lon link_count lane_count",
    "agri_soil": "soil_moisture soil_temperature soil_ec soil_ph battery f_cnt rssi snr",
    "agri_weather": "air_temperature air_humidity illuminance rainfall barometric_pressure battery "
    "f_cnt rssi snr",
    "iiot_metric": "edge_node device metric value_double value_text value_bool datatype "
    "industrial_id seq bd_seq is_historical stale",
    # derived by the share processor from v2x_participant (k-anonymous counts per cell and bucket)
    "v2x_participant_flow": "ptc_type records entities mean_speed",
}


def copy_catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG, target)
    return target


def test_shipped_catalog_matches_the_interface() -> None:
    catalog = load_catalog()
    assert set(catalog.entries) == set(EXPECTED_ITEMS)
    for code, names in EXPECTED_ITEMS.items():
        entry = catalog.get(code)
        assert entry is not None
        assert entry.item_names == tuple(names.split())
        assert entry.storage_table == code
        assert entry.version >= 1
    providers = {e.code: e.provider for e in catalog}
    assert {p for c, p in providers.items() if c.startswith("v2x_")} == {"jl_traffic_police"}
    assert {p for c, p in providers.items() if c.startswith("agri_")} == {"jl_agri_bureau"}
    assert providers["iiot_metric"] == "jl_industry_dept"
    participant = catalog.get("v2x_participant")
    assert participant is not None
    assert participant.item("ptc_id") is not None
    assert participant.item("ptc_id").sensitivity == "identifier"  # type: ignore[union-attr]
    heading = participant.item("heading")
    assert heading is not None and not heading.in_range(360.0) and heading.in_range(359.9)
    assert catalog.get("nope") is None


def test_public_names() -> None:
    exported = set(catalog_pkg.__all__)
    assert {"load_catalog", "Catalog", "DatasetEntry", "Item", "CatalogGuard"} <= exported
    assert all(hasattr(catalog_pkg, n) for n in exported)


def test_classes_of_the_shipped_entries() -> None:
    catalog = load_catalog()
    classes = {e.code: (e.share_class, e.open_class) for e in catalog}
    assert classes["v2x_participant"] == ("conditional", "none")
    assert classes["v2x_signal_phase"][0] == "unconditional"
    assert classes["agri_weather"][1] != "none"
    assert classes["iiot_metric"] == ("conditional", "none")


def test_lists_are_nested_and_computed() -> None:
    catalog = load_catalog()
    resource = {r.code for r in compute_list(catalog, "resource")}
    share = {r.code for r in compute_list(catalog, "share")}
    opened = {r.code for r in compute_list(catalog, "open")}
    assert resource == set(catalog.entries)
    assert opened <= share <= resource
    assert "v2x_participant" in share and "v2x_participant" not in opened
    assert "iiot_metric" not in opened
    assert {"agri_weather", "v2x_intersection"} <= opened


def test_lists_nested_over_random_catalogues() -> None:
    """C16 as a property: whatever valid classes the entries get, resource ⊇ share ⊇ open."""
    rng = random.Random(6)
    shipped = list(load_catalog())
    terms = {
        "conditions": "c",
        "scope": ["s"],
        "purposes": ["p"],
        "methods": ["m"],
        "legal_basis": "b",
        "negative_list_ref": "n",
        "license": "CC-BY-4.0",
    }
    built = 0
    for _ in range(200):
        entries: list[DatasetEntry] = []
        for entry in shipped:
            doc = entry.definition()
            share, opened = (
                rng.choice(["unconditional", "conditional", "none"]),
                rng.choice(["unconditional", "conditional", "none"]),
            )
            doc.update(share_class=share, open_class=opened, share_terms=terms, open_terms=terms)
            doc["status"] = rng.choice(["published", "published", "retired"])
            doc["kafka_topics"] = {
                "data": f"data.{entry.code}",
                "share": None if share == "none" else f"share.{entry.code}",
                "open": None if opened == "none" else f"open.{entry.code}",
            }
            doc["deidentification"] = dict(doc["deidentification"], refuse_open=opened == "none")
            try:
                entries.append(parse_entry(doc))
            except CatalogError:
                entries.append(entry)
        catalog = catalog_from_entries(entries)
        built += 1
        resource = {r.code for r in compute_list(catalog, "resource")}
        share_l = {r.code for r in compute_list(catalog, "share")}
        open_l = {r.code for r in compute_list(catalog, "open")}
        assert open_l <= share_l <= resource
    assert built == 200


def test_one_provider_per_data_item(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    doc = yaml.safe_load((root / "agri_soil.yaml").read_text())
    doc.update(code="agri_soil_second", storage_table="agri_soil_second", provider="other_unit")
    doc["kafka_topics"] = {
        "data": "data.agri_soil_second",
        "share": "share.agri_soil_second",
        "open": "open.agri_soil_second",
    }
    (root / "agri_soil_second.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    message = str(info.value)
    assert "soil_plot.soil_moisture" in message and "一数一源" in message
    # A derived entry re-publishes its source's items and is not a second source.
    doc["derived_from"] = "agri_soil"
    (root / "agri_soil_second.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    assert load_catalog(root).get("agri_soil_second") is not None


def test_cross_entry_rules(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    doc = yaml.safe_load((root / "agri_weather.yaml").read_text())
    doc.update(code="agri_weather_copy", storage_table="agri_soil", derived_from="agri_missing")
    doc["kafka_topics"] = {
        "data": "data.agri_weather_copy",
        "share": "share.agri_weather_copy",
        "open": "open.agri_weather_copy",
    }
    (root / "weather_copy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    problems = "\n".join(info.value.problems)
    assert "file name must be the dataset code" in problems
    assert "storage_table 'agri_soil' is used by" in problems
    assert "derived_from 'agri_missing' is not catalogued" in problems


def test_unreadable_and_empty_catalogs(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog files"):
        load_catalog(tmp_path)
    (tmp_path / "broken.yaml").write_text("code: [unclosed\n")
    with pytest.raises(CatalogError, match="unreadable"):
        load_catalog(tmp_path)
    (tmp_path / "broken.yaml").write_text("- just a list\n")
    with pytest.raises(CatalogError, match="must be a mapping"):
        load_catalog(tmp_path)


def test_content_hash_ignores_version_only() -> None:
    entry = load_catalog().get("agri_soil")
    assert entry is not None
    bumped = entry.model_copy(update={"version": 7})
    changed = parse_entry(entry.definition() | {"abstract": "changed"})
    assert bumped.content_sha256() == entry.content_sha256()
    assert changed.content_sha256() != entry.content_sha256()


def test_entries_are_frozen() -> None:
    entry = load_catalog().get("agri_soil")
    assert entry is not None
    with pytest.raises(ValueError, match="frozen"):
        entry.version = 2


def test_guard_without_database_snapshot() -> None:
    guard = CatalogGuard(load_catalog())
    assert guard.check("agri_soil", 1) is None
    unknown = guard.check("agri_compost", 1)
    assert unknown is not None and unknown.reason is ReasonCode.UNKNOWN_DATASET
    stale = guard.check("agri_soil", 2)
    assert stale is not None and stale.reason is ReasonCode.UNKNOWN_CATALOG_VERSION
    assert guard.unregistered_entries() == ()


def test_guard_with_registered_versions() -> None:
    catalog = load_catalog()
    guard = CatalogGuard(catalog, registered=[("agri_soil", 1), ("agri_soil", 2)])
    assert guard.is_allowed("agri_soil", 2)  # an older or newer registered version is known
    refusal = guard.check("agri_weather", 1)
    assert refusal is not None and refusal.reason is ReasonCode.UNKNOWN_CATALOG_VERSION
    assert "catalog register" in refusal.detail
    assert "agri_weather" in guard.unregistered_entries()
    guard.replace_registered((e.code, e.version) for e in catalog)
    assert guard.is_allowed("agri_weather", 1)
    assert not guard.is_allowed("agri_soil", 2)


def test_guard_refuses_unpublished_entries() -> None:
    shipped = load_catalog()
    entries = [
        e.model_copy(update={"status": "retired"}) if e.code == "agri_soil" else e for e in shipped
    ]
    guard = CatalogGuard(catalog_from_entries(entries))
    refusal = guard.check("agri_soil", 1)
    assert refusal is not None and refusal.reason is ReasonCode.UNKNOWN_DATASET
    assert "retired" in refusal.detail
    assert guard.is_allowed("agri_weather", 1)
