"""Configuration of the sink service: Kafka, database, batching, retries and the log signing key.

Environment form: ``SENSEGATE_SINK__BATCH_MAX_RECORDS=2000``, ``SENSEGATE_PROVENANCE__SIGNING_KEY=...``
(see config/sink.example.env).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig, MetricsConfig

__all__ = ["ProvenanceConfig", "SinkConfig", "SinkSettings"]


class SinkConfig(BaseModel):
    """Batching, consumer-group and retry behaviour of the sink."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str = "sensegate-sink"
    batch_max_records: int = Field(default=2000, ge=1)
    batch_timeout_ms: int = Field(default=500, ge=10)
    session_timeout_ms: int = Field(default=10000, ge=6000)
    metadata_max_age_ms: int = Field(default=30000, ge=500, description="pattern refresh")
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)
    retry_attempts: int | None = Field(default=None, ge=1, description="None: retry forever")
    storage_mode: Literal["auto", "timescale", "plain"] = "auto"
    migrate_on_start: bool = True
    retention_interval_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SinkConfig:
        if self.retry_initial_s > self.retry_max_s:
            msg = "sink.retry_initial_s must not exceed sink.retry_max_s"
            raise ValueError(msg)
        return self


class ProvenanceConfig(BaseModel):
    """The tamper-evident log: signing key, period length and checkpoint cadence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 private key seed, 32 bytes as base64 or hex"
    )
    trusted_public_keys: tuple[str, ...] = Field(
        default=(), description="public keys accepted by verify; default: the signing key's"
    )
    origin: str = "sensegate"
    period_s: int = Field(default=86400, ge=60, description="one Merkle tree per period")
    checkpoint_every_leaves: int = Field(default=10000, ge=1)
    checkpoint_interval_s: float = Field(default=60.0, gt=0)


class SinkSettings(BaseSettings):
    """Everything ``python -m processors sink`` and ``provenance`` read from the environment."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    db: DbConfig = DbConfig()
    metrics: MetricsConfig = MetricsConfig()
    sink: SinkConfig = SinkConfig()
    provenance: ProvenanceConfig = ProvenanceConfig()
    catalog_dir: Path | None = None
