"""Settings of the share service: Kafka, metrics, the share/open pseudonym keys and the window timing.

Environment form (``SENSEGATE_`` prefix, ``__`` nesting), e.g. ``SENSEGATE_SHARE_GROUP_ID``,
``SENSEGATE_SHARE_KEYS__MASTERS='{"k1": "..."}'`` (docs/configuration.md lists them all).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, KafkaConfig, MetricsConfig

__all__ = ["ShareKeys", "ShareSettings"]


class ShareKeys(BaseModel):
    """Master secrets of the rotating share/open pseudonym keys (id -> secret) and the active id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    masters: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="key id -> share/open pseudonym master secret (JSON); no default",
    )
    active_id: str = Field(default="", description="id of the master key in use")

    def missing_settings(self) -> list[str]:
        """Names of unset fields: the share service must not start without its key."""
        return [name for name in ("masters", "active_id") if not getattr(self, name)]


class ShareSettings(BaseSettings):
    """Settings of ``python -m processors share`` (environment prefix ``SENSEGATE_``)."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    metrics: MetricsConfig = MetricsConfig()
    share_keys: ShareKeys = ShareKeys()
    share_group_id: str = "sensegate-share"
    share_lateness_s: int = Field(default=60, ge=0)
    share_max_delay_s: int = Field(default=300, ge=1)
    # Longest wait for the acknowledgements of one batch; past it the service exits uncommitted.
    share_produce_timeout_s: float = Field(default=60.0, gt=0)
