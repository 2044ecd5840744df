"""Gateway configuration: a frozen ``GatewayConfig`` composed with the shared MQTT/Kafka/metrics configs.

Environment: ``SENSEGATE_<SECTION>__<FIELD>``, e.g. ``SENSEGATE_GATEWAY__MAX_IN_FLIGHT=500`` or
``SENSEGATE_GATEWAY__SUBSCRIPTIONS='["V2X/RSU/+/+/UP/#"]'`` (lists and routes as JSON).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from contracts.families import FAMILIES
from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig, MetricsConfig, MqttConfig
from gateway.exceptions import RouteError
from gateway.routing import DEFAULT_ROUTES, Route, RouteConfig

__all__ = ["DEFAULT_SUBSCRIPTIONS", "GatewayConfig", "GatewaySettings"]

# Every registered family's subscriptions (contracts/families/).
DEFAULT_SUBSCRIPTIONS: tuple[str, ...] = tuple(s for f in FAMILIES.values() for s in f.subscriptions)

# Kafka request overhead allowed on top of the payload (headers, batch framing, DLQ JSON fields).
_REQUEST_OVERHEAD = 65536


class GatewayConfig(BaseModel):
    """Behaviour of one gateway instance (frozen; validated once at start-up)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=64,
        description="gateway instance id recorded in every envelope; default: the host name",
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id; default sensegate-gw-<instance_id>"
    )
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0, le=0xFFFFFFFF)
    subscriptions: tuple[str, ...] = DEFAULT_SUBSCRIPTIONS
    share_group: str | None = Field(
        default=None, description="when set, subscriptions become $share/<group>/<filter>"
    )
    routes: tuple[RouteConfig, ...] = DEFAULT_ROUTES
    seal_families: tuple[str, ...] = Field(
        default=(),
        description="families whose raw payloads are sealed per device and epoch before Kafka "
        "(personal data: the stack sets [\"v2x\"]; needs SENSEGATE_DB__DSN, role sensegate_gateway)",
    )
    seal_epoch_s: int = Field(
        default=3600, ge=1, description="length of a raw key's epoch, seconds (erasure shreds whole epochs)"
    )
    max_payload_bytes: int = Field(default=1_000_000, ge=1)
    dlq_keep_bytes: int = Field(default=4096, ge=0, description="bytes of an oversize payload kept")
    max_in_flight: int = Field(default=1000, ge=1, le=65535, description="MQTT Receive Maximum")
    produce_timeout_s: float = Field(default=10.0, gt=0)
    retry_backoff_min_s: float = Field(default=0.2, gt=0)
    retry_backoff_max_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: int = Field(default=1, ge=1)
    reconnect_max_s: int = Field(default=30, ge=1)
    linger_ms: int = Field(default=5, ge=0)
    max_request_bytes: int = Field(default=2_000_000, ge=1024)
    batch_bytes: int = Field(
        default=262_144,
        ge=1024,
        description="producer batch size per partition (aiokafka max_batch_size)",
    )
    drain_timeout_s: float = Field(default=30.0, ge=0)
    broker_audit: bool = Field(
        default=True, description="count the broker's refusals from $SYS/broker/log (metric)"
    )
    broker_log_file: Path | None = Field(
        default=None,
        description="count refusals from this broker log file instead (same host; with the "
        "broker at log_type debug this includes denied PUBLISHes)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("subscriptions")
    @classmethod
    def _valid_subscriptions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            msg = "at least one subscription is required"
            raise ValueError(msg)
        for sub in value:
            plain = _strip_share(sub)
            levels = plain.split("/")
            if not plain or any(
                ("#" in p and (p != "#" or i != len(levels) - 1)) or ("+" in p and p != "+")
                for i, p in enumerate(levels)
            ):
                msg = f"invalid MQTT topic filter {sub!r}"
                raise ValueError(msg)
        return value

    @field_validator("share_group")
    @classmethod
    def _valid_group(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in "/+#")):
            msg = f"invalid shared subscription group {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GatewayConfig:
        for route in self.routes:
            try:
                Route(route)  # compile once so a bad template fails at start-up
            except RouteError as exc:
                raise ValueError(str(exc)) from exc
        if self.dlq_keep_bytes > self.max_payload_bytes:
            msg = "dlq_keep_bytes must not exceed max_payload_bytes"
            raise ValueError(msg)
        # A dead letter carries the payload base64-encoded: it must fit in one Kafka request.
        needed = (self.max_payload_bytes * 4 + 2) // 3 + _REQUEST_OVERHEAD
        if self.max_request_bytes < needed:
            msg = (
                f"max_request_bytes {self.max_request_bytes} is too small for max_payload_bytes "
                f"{self.max_payload_bytes} (need at least {needed})"
            )
            raise ValueError(msg)
        if self.batch_bytes > self.max_request_bytes:
            msg = "batch_bytes must not exceed max_request_bytes"
            raise ValueError(msg)
        if self.retry_backoff_min_s > self.retry_backoff_max_s:
            msg = "retry_backoff_min_s must not exceed retry_backoff_max_s"
            raise ValueError(msg)
        if self.reconnect_min_s > self.reconnect_max_s:
            msg = "reconnect_min_s must not exceed reconnect_max_s"
            raise ValueError(msg)
        return self

    @property
    def effective_client_id(self) -> str:
        """The fixed MQTT client id that keeps this instance's persistent session."""
        return self.client_id or f"sensegate-gw-{self.instance_id}"

    @property
    def effective_subscriptions(self) -> tuple[str, ...]:
        """Subscriptions as sent to the broker, with the shared-subscription prefix applied."""
        if self.share_group is None:
            return self.subscriptions
        return tuple(
            s if s.startswith("$share/") else f"$share/{self.share_group}/{s}"
            for s in self.subscriptions
        )

    @property
    def queue_capacity(self) -> int:
        """Messages the MQTT thread may hand to the loop before it blocks (QoS 1 plus QoS 0 slack)."""
        return 2 * self.max_in_flight


def _strip_share(sub: str) -> str:
    if sub.startswith("$share/"):
        parts = sub.split("/", 2)
        return parts[2] if len(parts) == 3 and parts[1] else ""
    return sub


class GatewaySettings(BaseSettings):
    """All settings of ``python -m gateway``, read from ``SENSEGATE_*`` environment variables."""

    model_config = SETTINGS_CONFIG

    mqtt: MqttConfig = MqttConfig()
    kafka: KafkaConfig = KafkaConfig()
    metrics: MetricsConfig = MetricsConfig()
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    # The raw epoch keys: required when gateway.seal_families is not empty, unused otherwise.
    db: DbConfig | None = None

    @model_validator(mode="after")
    def _sealing_needs_the_key_table(self) -> GatewaySettings:
        if self.gateway.seal_families and self.db is None:
            msg = "SENSEGATE_GATEWAY__SEAL_FAMILIES needs the key table: set SENSEGATE_DB__DSN"
            raise ValueError(msg)
        return self
