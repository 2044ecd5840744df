"""Settings of the admin commands (catalog, profiles, devices, grants, provenance, dlq): one class.

The services' settings live beside each service (gateway.config, processors.normalize.config,
processors.sinks.config, processors.share.config); the admin commands share the connections below.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig
from processors.registry.credentials import BrokerSettings
from processors.sinks.config import ProvenanceConfig

__all__ = ["AdminSettings"]


class AdminSettings(BaseSettings):
    """What the admin commands read from the environment (``SENSEGATE_`` prefix).

    ``grants bootstrap-principals`` administers Kafka ACLs and SCRAM users, so for it the Kafka
    credentials must be an ACL administrator's; ``devices`` issues broker credentials through
    ``broker`` (the broker's admin client); ``provenance`` signs with the sink's key.
    """

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    db: DbConfig = DbConfig()
    provenance: ProvenanceConfig = ProvenanceConfig()
    broker: BrokerSettings | None = None
    catalog_dir: Path | None = Field(
        default=None, description="catalog folder of the provenance command (default catalog/)"
    )
