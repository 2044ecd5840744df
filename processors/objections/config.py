"""Settings of ``python -m processors objections`` (environment prefix ``SENSEGATE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig
from processors.share.config import ShareKeys
from processors.sinks.config import ProvenanceConfig

__all__ = ["ObjectionsConfig", "ObjectionsSettings"]


class ObjectionsConfig(BaseModel):
    """The objection API server and the CLI's unit credential."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=19110, ge=0, le=65535, description="HTTPS port of the API")
    tls_cert: Path | None = Field(default=None, description="server certificate (PEM)")
    tls_key: Path | None = Field(default=None, description="server private key (PEM)")
    insecure_plaintext: bool = Field(
        default=False, description="serve plain HTTP (development only; prints a warning)"
    )
    public_per_minute: int = Field(
        default=5, ge=1, description="objections a client without account may submit per minute"
    )
    max_body_bytes: int = Field(default=65536, ge=1024)
    token: SecretStr | None = Field(
        default=None, description="the unit API token the CLI acts with (decide, answer, list)"
    )


class ObjectionsSettings(BaseSettings):
    """Everything the objection CLI and server read from the environment."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    db: DbConfig = DbConfig()
    provenance: ProvenanceConfig = ProvenanceConfig()
    share_keys: ShareKeys = ShareKeys()
    objections: ObjectionsConfig = ObjectionsConfig()
    catalog_dir: Path | None = None
