"""Storage schema: ordered migrations, per-dataset tables (TimescaleDB or partitioned PostgreSQL)."""

from __future__ import annotations

from processors.storage.ddl import dataset_ddl
from processors.storage.migrate import MigrationReport, migrate, timescale_available
from processors.storage.partitions import drop_expired_partitions, ensure_partitions

__all__ = [
    "MigrationReport",
    "dataset_ddl",
    "drop_expired_partitions",
    "ensure_partitions",
    "migrate",
    "timescale_available",
]
