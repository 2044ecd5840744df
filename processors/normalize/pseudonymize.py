"""Keyed pseudonyms (docs/governance.md P1): truncated HMAC-SHA256 over a domain-separated value.

Keys come from configuration as a mapping key id -> secret with one active id. Rotation means
configuring a new active id: pseudonyms are stable for one key and unrelated across keys, and every
record names the key id it was made with (``provenance.pseudonym_key_id``). The secret never leaves
this module; no reverse mapping is kept (re-identification needs the key and a candidate value).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from processors.exceptions import ConfigurationError

__all__ = ["PseudonymConfig", "Pseudonymizer"]

# 128 bits of the HMAC: collision-free for any realistic population, short enough for keys.
_HEX_CHARS = 32


class PseudonymConfig(BaseModel):
    """Pseudonymization keys: ``keys`` maps key id -> secret, ``active_key_id`` names the one in use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="key id -> HMAC secret (JSON); no default: the stack writes one per state folder",
    )
    active_key_id: str = Field(default="", description="id of the key new pseudonyms are made with")

    def missing_settings(self) -> list[str]:
        """Names of unset fields: a normalizer without a key must not start."""
        return [name for name in ("keys", "active_key_id") if not getattr(self, name)]

    @model_validator(mode="after")
    def _active_key_known(self) -> PseudonymConfig:
        if not self.keys or not self.active_key_id:
            return self  # reported by missing_settings() when the service loads its settings
        if self.active_key_id not in self.keys:
            msg = f"active pseudonym key id {self.active_key_id!r} is not among the configured keys"
            raise ValueError(msg)
        for key_id, secret in self.keys.items():
            if len(secret.get_secret_value()) < 16:
                msg = f"pseudonym key {key_id!r} is shorter than 16 characters"
                raise ValueError(msg)
        return self


class Pseudonymizer:
    """Makes keyed pseudonyms with the active key; pure and thread-safe (immutable state)."""

    def __init__(self, keys: Mapping[str, SecretStr], active_key_id: str) -> None:
        if not keys or not active_key_id:
            msg = "SENSEGATE_PSEUDONYM__KEYS / SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID are not set"
            raise ConfigurationError(msg)
        if active_key_id not in keys:
            msg = f"active pseudonym key id {active_key_id!r} not configured"
            raise ConfigurationError(msg)
        self._secret = keys[active_key_id].get_secret_value().encode()
        self.key_id = active_key_id

    @classmethod
    def from_config(cls, config: PseudonymConfig) -> Pseudonymizer:
        """Build from the frozen configuration."""
        return cls(config.keys, config.active_key_id)

    def pseudonym(self, value: object, domain: str) -> str:
        """Pseudonym of ``value`` within ``domain`` (e.g. ``v2x_participant.ptc_id``).

        The value is normalised (text form, Unicode NFC, surrounding blanks removed) so that the
        same identifier rendered as an int or a string gets the same pseudonym.
        """
        text = unicodedata.normalize("NFC", str(value).strip())
        message = domain.encode() + b"\x1f" + text.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_HEX_CHARS]
