"""C1 catalogue first: wildcard-aware overlap of source_topics, refusal at registration, resolution."""

from __future__ import annotations

import pytest

from processors.catalog import CatalogError, catalog_from_entries, load_catalog
from processors.catalog.sources import filter_problem, filters_overlap, resolve_entry, topic_matches


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("V2X/RSU/+/+/UP", "V2X/RSU/#", True),
        ("V2X/RSU/#", "V2X/RSU", True),  # '#' also matches the parent level
        ("V2X/RSU/+/RSI/UP", "V2X/RSU/+/RSM/UP", False),
        ("V2X/RSU/+/RSI/UP", "V2X/RSU/+/RSI/UP/+", False),  # different depth, no '#'
        ("V2X/RSU/+/RSI/UP/+", "V2X/RSU/R1/+/UP/x", True),
        ("application/+/device/+/event/up", "v3/+/devices/+/up", False),
        ("#", "anything/at/all", True),
        ("+/b", "a/+", True),
        ("a/b", "a/c", False),
    ],
)
def test_filter_overlap_is_wildcard_aware(a: str, b: str, overlap: bool) -> None:
    assert filters_overlap(a, b) is overlap
    assert filters_overlap(b, a) is overlap


def test_topic_matching_and_invalid_filters() -> None:
    assert topic_matches("V2X/RSU/+/RSI/UP", "V2X/RSU/R1/RSI/UP")
    assert not topic_matches("V2X/RSU/+/RSI/UP", "V2X/RSU/R1/RSI/UP/x")
    assert not topic_matches("#", "$SYS/broker/load")
    assert filter_problem("a/#/b") and filter_problem("a/b+") and filter_problem("")
    assert filter_problem("V2X/RSU/+/+/UP") is None


def test_two_entries_matching_one_topic_are_refused_at_registration() -> None:
    """C1 acceptance: overlapping filters of one family without a discriminator -> refused."""
    catalog = load_catalog()
    road = catalog.get("v2x_road_event")
    assert road is not None
    greedy = road.model_copy(update={"code": "v2x_everything", "source_topics": ("V2X/RSU/#",)})
    others = [e for e in catalog if e.code != "v2x_road_event"]
    with pytest.raises(CatalogError) as info:
        catalog_from_entries([*others, greedy])
    text = "\n".join(info.value.problems)
    assert "C1: source_topics: 'V2X/RSU/#' overlaps" in text


def test_shared_lorawan_topics_need_the_declared_discriminator() -> None:
    catalog = load_catalog()
    soil = catalog.get("agri_soil")
    assert soil is not None and soil.source_discriminator == "device_profile"
    undeclared = soil.model_copy(update={"source_discriminator": None})
    with pytest.raises(CatalogError) as info:
        catalog_from_entries([e for e in catalog if e.code != "agri_soil"] + [undeclared])
    assert any("agri_soil: C1: source_topics" in p for p in info.value.problems)


def test_resolution_no_entry_ambiguous_and_profile_split() -> None:
    catalog = load_catalog()
    miss = resolve_entry(catalog, "V2X/RSU/R1/UNKNOWN/UP", "v2x")
    assert (miss.entry, miss.reason) == (None, "no_catalog_entry")
    topic = "application/7/device/0004a30b001c1234/event/up"
    both = resolve_entry(catalog, topic, "agri")
    assert both.reason == "ambiguous_catalog_entry"
    assert both.candidates == ("agri_soil", "agri_weather")
    one = resolve_entry(catalog, topic, "agri", allowed={"agri_weather"})
    assert one.entry is not None and one.entry.code == "agri_weather"
    rsi = resolve_entry(catalog, "V2X/RSU/R1/RSI/UP", "v2x")
    assert rsi.entry is not None and rsi.entry.code == "v2x_road_event"


def test_route_problem_at_ingest_per_record() -> None:
    """C1 at ingest: the record's dataset must be the topic's entry among the device's datasets."""
    catalog = load_catalog()
    v2x = ("v2x_participant", "v2x_signal_phase", "v2x_road_event")
    assert catalog.route_problem("V2X/RSU/R1/RSM/UP", "v2x", "v2x_participant", v2x) is None
    crossed = catalog.route_problem("V2X/RSU/R1/SPAT/UP", "v2x", "v2x_participant", v2x)
    assert crossed is not None and crossed[0] == "no_catalog_entry"
    assert "feeds v2x_signal_phase" in crossed[1]
    # registered for intersections? no: the MAP topic then feeds none of the device's datasets
    unregistered = catalog.route_problem("V2X/RSU/R1/MAP/UP", "v2x", "v2x_intersection", v2x)
    assert unregistered is not None and "none of the device's datasets" in unregistered[1]
    lora = "application/7/device/0004a30b001c1234/event/up"
    both = ("agri_soil", "agri_weather")
    # a combined station: the profile names the dataset of each value (declared discriminator)
    assert catalog.route_problem(lora, "agri", "agri_weather", both) is None
    stray = catalog.route_problem("farm/0004a30b001c1234/up", "agri", "agri_soil", both)
    assert stray is not None and stray[0] == "no_catalog_entry"


def test_route_problem_ambiguous_without_discriminator() -> None:
    """Entries that overlap without a discriminator route nothing (registration refuses them too)."""
    from processors.catalog.sources import route_problem

    catalog = load_catalog()
    soil, weather = catalog.get("agri_soil"), catalog.get("agri_weather")
    assert soil is not None and weather is not None
    plain = [e.model_copy(update={"source_discriminator": None}) for e in (soil, weather)]
    lora = "v3/app/devices/0004a30b001c1234/up"
    found = route_problem(plain, lora, "agri", "agri_soil", {"agri_soil", "agri_weather"})
    assert found is not None and found[0] == "ambiguous_catalog_entry"
    assert "agri_soil, agri_weather" in found[1]
