"""A derived entry's own data record: each released aggregate as a DatasetRecord on ``data.<code>``.

The sink stores data topics, so a derived entry (e.g. ``v2x_participant_flow``) gets its table
the same way collected entries do. Only released aggregates (at least k entities per cell) become
data records: a suppressed cell exists nowhere. Provenance names the share stage and the rule set
instead of a device, because the record is computed, not collected.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from contracts.record import DatasetRecord, GeoPoint, Provenance
from contracts.topics import data_topic
from processors import __version__
from processors.share.rules import OpenRecord

__all__ = ["DERIVED_DEVICE", "derived_data_record"]

DERIVED_DEVICE = "share-aggregate"


def derived_data_record(agg: OpenRecord, prefix: str, natural_key: str) -> DatasetRecord:
    """The data-tier record of one released aggregate (same record id as on share/open)."""
    cell = agg.cell
    now_ns = time.time_ns()
    return DatasetRecord(
        record_id=agg.record_id,
        dataset=agg.dataset,
        catalog_version=agg.catalog_version,
        entity_id=cell.id if cell else "-",
        natural_key=natural_key,
        observed_at=agg.period_start,
        received_at=datetime.fromtimestamp(now_ns / 1e9, UTC),
        values=dict(agg.values),
        location=GeoPoint(lat=cell.lat, lon=cell.lon) if cell else None,
        provenance=Provenance(
            raw_sha256=hashlib.sha256(agg.to_kafka_value()).hexdigest(),
            device_id=DERIVED_DEVICE,
            gateway_id=DERIVED_DEVICE,
            mqtt_topic="",
            received_ns=now_ns,
            kafka_topic=data_topic(prefix, agg.source_dataset),
            kafka_partition=0,
            kafka_offset=0,
            codec="aggregate",
            codec_version=agg.rule_set,
            processor_version=__version__,
        ),
    )
