"""Frozen component configs shared by the services (MQTT, Kafka, database, metrics).

Each service composes these into one ``pydantic_settings.BaseSettings`` with the ``SENSEGATE_``
prefix and ``__`` as the nested delimiter, e.g. ``SENSEGATE_KAFKA__BOOTSTRAP_SERVERS``.
Defaults match the native stack (``stack/stack.sh``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

__all__ = ["SETTINGS_CONFIG", "DbConfig", "KafkaConfig", "MetricsConfig", "MqttConfig"]

# Shared model_config for every service settings class.
SETTINGS_CONFIG = SettingsConfigDict(
    env_prefix="SENSEGATE_", env_nested_delimiter="__", frozen=True, extra="ignore"
)


class MqttConfig(BaseModel):
    """MQTT broker connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=11883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(default=30, ge=5)
    tls: bool = False


class KafkaConfig(BaseModel):
    """Kafka cluster connection and topic naming."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = "sensegate."
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    request_timeout_ms: int = Field(default=15000, ge=1000)

    def client_kwargs(self) -> dict[str, object]:
        """Keyword arguments common to aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return kwargs


class DbConfig(BaseModel):
    """PostgreSQL / TimescaleDB connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dsn: SecretStr = SecretStr("postgresql://sensegate:sensegate@127.0.0.1:15432/sensegate")
    schema_name: str = "sensegate"
    pool_min: int = Field(default=1, ge=1)
    pool_max: int = Field(default=4, ge=1)


class MetricsConfig(BaseModel):
    """Prometheus metrics and health endpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 disables the HTTP endpoint")
