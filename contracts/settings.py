"""Frozen component configs shared by the services (MQTT, Kafka, database, metrics).

Each service composes these into one ``pydantic_settings.BaseSettings`` with the ``SENSEGATE_``
prefix and ``__`` as the nested delimiter, e.g. ``SENSEGATE_KAFKA__BOOTSTRAP_SERVERS``.
Defaults match the native stack (``stack/stack.sh``); no secret has a default (see
``contracts.secrets``): the stack writes each service's credentials to its state folder.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from contracts.secrets import Unset

__all__ = ["SETTINGS_CONFIG", "DbConfig", "KafkaConfig", "MetricsConfig", "MqttConfig"]

# Shared model_config for every service settings class.
SETTINGS_CONFIG = SettingsConfigDict(
    env_prefix="SENSEGATE_", env_nested_delimiter="__", frozen=True, extra="ignore"
)


class MqttConfig(BaseModel):
    """MQTT broker connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", description="MQTT broker host")
    port: int = Field(default=11883, ge=1, le=65535, description="MQTT broker port")
    username: str | None = Field(
        default=None, description="MQTT user name (the broker refuses anonymous clients)"
    )
    password: SecretStr | None = Field(default=None, description="MQTT password")
    keepalive_s: int = Field(default=30, ge=5, description="MQTT keep-alive in seconds")
    tls: bool = Field(default=False, description="connect with TLS")
    tls_ca_file: Path | None = Field(
        default=None, description="CA certificate the broker's certificate must chain to (TLS)"
    )
    tls_cert_file: Path | None = Field(
        default=None, description="client certificate for mutual TLS (its CN is the user name)"
    )
    tls_key_file: Path | None = Field(default=None, description="private key of tls_cert_file")


class KafkaConfig(BaseModel):
    """Kafka cluster connection and topic naming."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    topic_prefix: str = Field(default="sensegate.", description="prefix of every pipeline topic")
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="SASL_SSL", description="Kafka security protocol"
    )
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when a SASL protocol is used"
    )
    sasl_username: str | None = Field(default=None, description="SASL principal name")
    sasl_password: SecretStr = Field(
        default=Unset("SENSEGATE_KAFKA__SASL_PASSWORD"), description="SASL password (no default)"
    )
    ssl_cafile: Path | None = Field(
        default=None, description="CA certificate file that signed the broker's (TLS protocols)"
    )
    request_timeout_ms: int = Field(default=15000, ge=1000, description="Kafka request timeout")

    def missing_settings(self) -> list[str]:
        """Credentials a SASL protocol needs but that are not configured (field names)."""
        if not self.security_protocol.startswith("SASL"):
            return []
        return ["sasl_username"] if not self.sasl_username else []

    def client_kwargs(self) -> dict[str, object]:
        """Keyword arguments common to aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        if self.security_protocol.endswith("SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """TLS context verifying the broker (host name included) against ``ssl_cafile``."""
        cafile = str(self.ssl_cafile) if self.ssl_cafile else None
        return ssl.create_default_context(cafile=cafile)


class DbConfig(BaseModel):
    """PostgreSQL / TimescaleDB connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dsn: SecretStr = Field(
        default=Unset("SENSEGATE_DB__DSN"),
        description="PostgreSQL connection string with the service's own role (no default)",
    )
    schema_name: str = Field(
        default="sensegate", description="database schema of all sensegate tables"
    )


class MetricsConfig(BaseModel):
    """Prometheus metrics and health endpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", description="address of /metrics, /healthz, /readyz")
    port: int = Field(default=0, ge=0, le=65535, description="port of that endpoint; 0 disables it")
