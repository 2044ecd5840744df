"""Federation: upstream replication of what may leave an instance to the provincial platform."""

from processors.federation.allowlist import allowed_topics, is_forbidden
from processors.federation.config import FederationConfig, FederationError

__all__ = ["FederationConfig", "FederationError", "allowed_topics", "is_forbidden"]
