"""C15 on the share and open outputs: records inside a registered sensitive area are dropped or generalised.

The data topic and the tables keep the exact record (it is the authoritative source); only what
leaves through share or open topics is filtered, before de-identification and aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.record import DatasetRecord, GeoPoint
from processors.catalog.geofence import SensitiveArea, containing
from processors.share.deidentify import grid_cell

__all__ = ["fence_of", "generalized", "position_of"]


def position_of(record: DatasetRecord) -> tuple[float, float] | None:
    """(lat, lon) of a record: its location, else numeric ``lat``/``lon`` values."""
    if record.location is not None:
        return record.location.lat, record.location.lon
    lat, lon = record.values.get("lat"), record.values.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return float(lat), float(lon)
    return None


def fence_of(record: DatasetRecord, areas: Sequence[SensitiveArea]) -> SensitiveArea | None:
    """The sensitive area the record lies in, if any (records without a position lie in none)."""
    where = position_of(record) if areas else None
    return None if where is None else containing(areas, *where)


def generalized(record: DatasetRecord, cell_m: int) -> DatasetRecord:
    """The record with its position moved to the centre of its ``cell_m`` grid cell."""
    where = position_of(record)
    if where is None:
        return record
    cell = grid_cell(where[0], where[1], cell_m)
    values = dict(record.values)
    if "lat" in values:
        values["lat"] = cell.lat
    if "lon" in values:
        values["lon"] = cell.lon
    location = (
        None if record.location is None else GeoPoint(lat=cell.lat, lon=cell.lon, elevation_m=None)
    )
    return record.model_copy(update={"values": values, "location": location})
