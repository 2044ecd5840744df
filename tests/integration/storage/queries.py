"""The documented queries of docs/storage.md; both storage paths must answer them identically."""

from __future__ import annotations

DOCUMENTED_QUERIES: dict[str, str] = {
    "latest": (
        "SELECT entity_id, observed_at, soil_moisture FROM agri_soil "
        "WHERE observed_at >= TIMESTAMPTZ '2026-11-01' ORDER BY observed_at DESC, entity_id LIMIT 5"
    ),
    "quarter_hours": (
        "SELECT date_bin(INTERVAL '15 minutes', observed_at, TIMESTAMPTZ '2000-01-01') AS bucket, "
        "entity_id, count(*) AS n, avg(soil_moisture) AS soil_moisture "
        "FROM agri_soil GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "hourly": (
        "SELECT bucket, entity_id, n, soil_moisture_avg, soil_temperature_max "
        "FROM agri_soil_hourly ORDER BY bucket, entity_id"
    ),
    "current": "SELECT record_id, soil_moisture FROM agri_soil_current ORDER BY record_id",
    "provenance": (
        "SELECT d.record_id, p.device_id, p.raw_sha256, p.raw_topic, p.raw_offset "
        "FROM agri_soil AS d JOIN provenance AS p USING (provenance_id) ORDER BY d.record_id"
    ),
}
