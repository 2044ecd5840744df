"""Routing table: the three real layouts, templates, and refusal of bad patterns."""

from __future__ import annotations

import pytest

from gateway.exceptions import RouteError
from gateway.routing import DEFAULT_ROUTES, RouteConfig, RouteMatch, Router, filter_matches


@pytest.fixture
def router() -> Router:
    return Router(DEFAULT_ROUTES)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("spBv1.0/plant1/NBIRTH/edge7", RouteMatch("iiot", "plant1/edge7", "")),
        ("spBv1.0/plant1/NDATA/edge7", RouteMatch("iiot", "plant1/edge7", "")),
        ("spBv1.0/plant1/NDEATH/edge7", RouteMatch("iiot", "plant1/edge7", "")),
        ("spBv1.0/plant1/DDATA/edge7/pump3", RouteMatch("iiot", "plant1/edge7/pump3", "")),
        ("spBv1.0/STATE/scada-host", RouteMatch("iiot", "scada-host", "")),
        (
            "application/6a1c-uuid/device/A84041000181C6F1/event/up",
            RouteMatch("agri", "a84041000181c6f1", ""),
        ),
        (
            "application/6a1c-uuid/device/a84041000181c6f1/event/join",
            RouteMatch("agri", "a84041000181c6f1", ""),
        ),
        ("V2X/RSU/JL-CC-0007/RSM/UP", RouteMatch("v2x", "JL-CC-0007", "")),
        ("V2X/RSU/JL-CC-0007/SPAT/UP", RouteMatch("v2x", "JL-CC-0007", "")),
        ("V2X/RSU/JL-CC-0007/RSM/UP/DAWNLINE", RouteMatch("v2x", "JL-CC-0007", "DAWNLINE")),
        ("V2X/RSU/JL-CC-0007/RSM/UP/vendor/x", RouteMatch("v2x", "JL-CC-0007", "vendor/x")),
    ],
)
def test_default_routes(router: Router, topic: str, expected: RouteMatch) -> None:
    assert router.route(topic) == expected


@pytest.mark.parametrize(
    "topic",
    [
        "V2X/RSU/HB/UP",  # heartbeat: no RSU id in the topic
        "V2X/RSU/JL-1/RSM/DOWN",
        "V2X/RADAR/7/TRACK/UP",
        "application/x/device/y/command/down",
        "spBv1.0/g/NDATA/e/d/extra",
        "spBv1.0/g",
        "other/topic",
        "",
    ],
)
def test_unroutable(router: Router, topic: str) -> None:
    assert router.route(topic) is None


def test_empty_device_level_falls_through(router: Router) -> None:
    assert router.route("V2X/RSU//RSM/UP") is None


def test_first_match_wins_and_cache_is_consistent() -> None:
    r = Router(
        [
            RouteConfig(filter="a/+/special", family="agri", device="S-{1}"),
            RouteConfig(filter="a/#", family="iiot", device="{1*}"),
        ]
    )
    assert r.route("a/x/special") == RouteMatch("agri", "S-x", "")
    assert r.route("a/x/other") == RouteMatch("iiot", "x/other", "")
    assert r.route("a/x/other") == RouteMatch("iiot", "x/other", "")
    assert r.route("a") is None  # '#' matches the parent level, but the device is empty


@pytest.mark.parametrize(
    ("filt", "device"),
    [
        ("a/#/b", "{0}"),
        ("a/b#", "{0}"),
        ("a/+b", "{0}"),
        ("$share/g/a/+", "{0}"),
        ("a/+", "{2}"),  # reads a level the filter does not fix
        ("a/#", "{1}"),
        ("a/+", "{1"),
        ("a/+", "x}"),
    ],
)
def test_bad_routes_refused(filt: str, device: str) -> None:
    with pytest.raises(RouteError):
        Router([RouteConfig(filter=filt, family="v2x", device=device)])


def test_unknown_family_refused() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        RouteConfig(filter="a/+", family="weather", device="{1}")


@pytest.mark.parametrize(
    ("filt", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/b", "a/b/c", False),
    ],
)
def test_filter_matches(filt: str, topic: str, matches: bool) -> None:
    assert filter_matches(filt, topic) is matches
