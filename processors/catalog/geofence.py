"""C15 sensitive areas (重要敏感区域): GeoJSON polygons registered as catalog data with their own grade.

Files ``catalog/geofences/*.geojson`` hold one FeatureCollection each; every Feature is one area
with ``properties`` ``id``, ``name``, ``grade`` (important or core: the list of sensitive areas is
itself restricted data), ``basis`` and ``holder``, and a Polygon or MultiPolygon geometry in
WGS 84 lon/lat order (RFC 7946). The share processor drops or generalises every record inside one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.catalog.exceptions import CatalogError

__all__ = ["SensitiveArea", "containing", "load_geofences", "parse_geofences"]

Ring = tuple[tuple[float, float], ...]  # (lon, lat) pairs, first == last


class SensitiveArea(BaseModel):
    """One registered sensitive area: its polygons (outer ring then holes) and its grade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,62}$")]
    name: Annotated[str, Field(min_length=1)]
    grade: Literal["important", "core"]
    basis: Annotated[str, Field(min_length=1)]
    holder: Annotated[str, Field(min_length=1)]
    polygons: tuple[tuple[Ring, ...], ...]
    source_sha256: str

    def contains(self, lat: float, lon: float) -> bool:
        """Whether (lat, lon) lies inside the area (inside an outer ring and no hole)."""
        return any(
            _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:])
            for rings in self.polygons
        )


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    # Even-odd crossing count of a ray to the east; points on an edge may fall either way,
    # which is immaterial at the metre scale the areas are drawn.
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _ring(raw: Any, where: str) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        msg = f"{where}: a linear ring needs at least 4 positions"
        raise ValueError(msg)
    ring: list[tuple[float, float]] = []
    for pos in raw:
        if not isinstance(pos, list) or len(pos) < 2:
            msg = f"{where}: a position is [lon, lat]"
            raise ValueError(msg)
        lon, lat = float(pos[0]), float(pos[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            msg = f"{where}: position {pos} is not WGS 84 [lon, lat]"
            raise ValueError(msg)
        ring.append((lon, lat))
    if ring[0] != ring[-1]:
        msg = f"{where}: a linear ring must end where it starts"
        raise ValueError(msg)
    return tuple(ring)


def _polygons(geometry: Any, where: str) -> tuple[tuple[Ring, ...], ...]:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if kind == "Polygon" and isinstance(coords, list):
        return (tuple(_ring(r, where) for r in coords),)
    if kind == "MultiPolygon" and isinstance(coords, list):
        return tuple(tuple(_ring(r, where) for r in poly) for poly in coords)
    msg = f"{where}: geometry must be a Polygon or MultiPolygon, got {kind!r}"
    raise ValueError(msg)


def parse_geofences(doc: Any, where: str) -> list[SensitiveArea]:
    """Areas of one GeoJSON FeatureCollection; raises CatalogError listing every problem."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        msg = f"{where}: a geofence file is a GeoJSON FeatureCollection"
        raise CatalogError(msg)
    digest = hashlib.sha256(
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    areas: list[SensitiveArea] = []
    problems: list[str] = []
    for index, feature in enumerate(doc.get("features") or []):
        at = f"{where}: features[{index}]"
        try:
            props = dict(feature.get("properties") or {})
            areas.append(
                SensitiveArea.model_validate(
                    props
                    | {
                        "polygons": _polygons(feature.get("geometry"), at),
                        "source_sha256": digest,
                    }
                )
            )
        except (ValueError, AttributeError, ValidationError) as exc:
            problems.append(f"{at}: C15: {exc}".replace("\n", " "))
    if problems:
        msg = f"{where}: invalid geofences ({len(problems)} problem(s))"
        raise CatalogError(msg, tuple(problems))
    return areas


def load_geofences(root: Path) -> tuple[SensitiveArea, ...]:
    """Every area under ``root/geofences/*.geojson`` (none if the folder is absent); unique ids."""
    folder = root / "geofences"
    areas: list[SensitiveArea] = []
    problems: list[str] = []
    for file in sorted(folder.glob("*.geojson")) if folder.is_dir() else ():
        try:
            areas += parse_geofences(json.loads(file.read_text(encoding="utf-8")), file.name)
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{file.name}: unreadable: {exc}")
        except CatalogError as exc:
            problems += exc.problems
    problems += _duplicate_ids(areas)
    if problems:
        msg = f"geofences under {folder} rejected ({len(problems)} problem(s))"
        raise CatalogError(msg, tuple(problems))
    return tuple(areas)


def _duplicate_ids(areas: Iterable[SensitiveArea]) -> list[str]:
    ids = [a.id for a in areas]
    return [
        f"C15: geofence id {i!r} is used more than once"
        for i in sorted(set(ids))
        if ids.count(i) > 1
    ]


def containing(areas: Sequence[SensitiveArea], lat: float, lon: float) -> SensitiveArea | None:
    """The first area containing the point, if any."""
    return next((a for a in areas if a.contains(lat, lon)), None)
