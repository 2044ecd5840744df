"""Settings of the normalize service: Kafka, MQTT (rebirth requests), database, mappers, quality.

Environment form (``SENSEGATE_`` prefix, ``__`` nesting), e.g. ``SENSEGATE_KAFKA__TOPIC_PREFIX``,
``SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID``, ``SENSEGATE_PSEUDONYM__KEYS='{"2025-06": "..."}'``,
``SENSEGATE_QUALITY__TOO_OLD=reject`` (docs/configuration.md lists them all).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig, MetricsConfig, MqttConfig
from processors.normalize.mapper_table import MapperConfig
from processors.normalize.pseudonymize import PseudonymConfig
from processors.normalize.quality import QualityConfig
from processors.normalize.runner import RunnerConfig

__all__ = ["NormalizeSettings"]


class NormalizeSettings(BaseSettings):
    """Settings of the normalize service (environment, ``SENSEGATE_`` prefix)."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    mqtt: MqttConfig = MqttConfig()
    db: DbConfig = DbConfig()
    metrics: MetricsConfig = MetricsConfig()
    pseudonym: PseudonymConfig = PseudonymConfig()
    quality: QualityConfig = QualityConfig()
    runner: RunnerConfig = RunnerConfig()
    mappers: MapperConfig = MapperConfig()
    dedup_cache_size: int = Field(default=200_000, ge=1)
    catalog_dir: Path | None = None
    registry_refresh_s: float = Field(default=5.0, gt=0)
    rebirth: bool = True
    health_flush_s: float = Field(
        default=15.0, gt=0, description="seconds between device health flushes to PostgreSQL"
    )
    seal_key_cache_s: float = Field(
        default=60.0,
        gt=0,
        description="seconds the normalizer reuses a data subject's key before asking the key "
        "table again (records sealed after an erasure within it reach the sink as erased)",
    )
    health_window_s: int = Field(
        default=300, gt=0, description="device health window (rows of device_health), seconds"
    )
