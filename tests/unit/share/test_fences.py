"""C15 sensitive areas: polygon containment, file validation, drop and generalise in the share processor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from processors.catalog import CatalogError, catalog_from_entries
from processors.catalog.geofence import parse_geofences
from processors.share.deidentify import RotatingKeyring, grid_cell
from processors.share.processor import ShareProcessor
from tests.fixtures.share_data import share_catalog, simple_record

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
RING = RotatingKeyring({"m": SecretStr("k" * 32)}, "m")
INSIDE, OUTSIDE = (43.8812, 125.3264), (43.8812345, 125.3154321)


def _collection(coords: list[Any], **props: Any) -> dict[str, Any]:
    base = {"id": "zone-a", "name": "Zone A", "grade": "important", "basis": "b", "holder": "h"}
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": base | props,
                "geometry": {"type": "Polygon", "coordinates": coords},
            }
        ],
    }


def test_polygon_with_hole_contains_only_the_ring_between() -> None:
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    (area,) = parse_geofences(_collection([outer, hole]), "t.geojson")
    assert area.contains(2, 2) and not area.contains(5, 5) and not area.contains(11, 5)


@pytest.mark.parametrize(
    ("coords", "props", "fragment"),
    [
        ([[[0, 0], [1, 0], [1, 1], [0, 0.5]]], {}, "end where it starts"),
        ([[[0, 0], [1, 0], [0, 0]]], {}, "at least 4 positions"),
        ([[[0, 0], [1, 0], [1, 1], [0, 0]]], {"grade": "general"}, "grade"),
        ([[[0, 0], [1, 0], [1, 1], [0, 0]]], {"basis": ""}, "basis"),
        ([[[0, 0], [200, 0], [1, 1], [0, 0]]], {}, "WGS 84"),
    ],
)
def test_invalid_geofence_refused_naming_rule_and_field(
    coords: list[Any], props: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(CatalogError) as info:
        parse_geofences(json.loads(json.dumps(_collection(coords, **props))), "t.geojson")
    text = "\n".join(info.value.problems)
    assert "t.geojson: features[0]: C15:" in text and fragment in text, text


def _events(processor: ShareProcessor) -> list[Any]:
    out = []
    for n, (rsu, where) in enumerate((("RSU2", INSIDE), ("RSU1", OUTSIDE))):
        rec = simple_record(
            "v2x_road_event",
            {"rsu_id": rsu, "kind": "event", "event_type": 100, "lat": where[0], "lon": where[1]},
            when=T0,
            entity=rsu,
            location=where,
        )
        out += processor.process(rec.to_kafka_value(), ("sensegate.data.v2x_road_event", 0), n)
    return out + processor.drain()


def test_point_inside_dropped_from_share_and_open_and_counted_per_fence() -> None:
    processor = ShareProcessor(share_catalog(), RING)
    out = _events(processor)
    texts = [o.value.decode() for o in out]
    assert len(out) == 2 and all("RSU1" in t or "125.3154321" in t for t in texts), texts
    assert not any("125.3264" in t or "RSU2" in t for t in texts)
    assert processor.stats.fenced == {
        "cc-demo-site-1:share:v2x_road_event": 1,
        "cc-demo-site-1:open:v2x_road_event": 1,
    }


def test_entry_saying_generalize_coarsens_the_position_instead() -> None:
    shipped = share_catalog()
    road = shipped.get("v2x_road_event")
    assert road is not None
    coarse = road.model_copy(
        update={
            "sensitive_areas": road.sensitive_areas.model_copy(
                update={"action": "generalize", "cell_m": 5000}
            )
        }
    )
    others = [e for e in shipped if e.code != "v2x_road_event"]
    catalog = catalog_from_entries([*others, coarse], geofences=shipped.geofences)
    processor = ShareProcessor(catalog, RING)
    out = _events(processor)
    cell = grid_cell(*INSIDE, 5000)
    docs = [json.loads(o.value) for o in out]
    assert len(docs) == 4
    positions = {(d["values"]["lat"], d["values"]["lon"]) for d in docs}
    assert positions == {(cell.lat, cell.lon), OUTSIDE}
