"""Ed25519 signing of checkpoints and correction events; keys are 32-byte seeds in base64 or hex."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from processors.exceptions import ConfigurationError

__all__ = ["Signer", "generate_seed", "key_id_for", "load_public_key", "verify_signature"]


def _decode_key(text: str, what: str) -> bytes:
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            msg = f"{what} is neither 64 hex digits nor base64"
            raise ConfigurationError(msg) from exc
    if len(raw) != 32:
        msg = f"{what} must be 32 bytes, got {len(raw)}"
        raise ConfigurationError(msg)
    return raw


def key_id_for(public_raw: bytes) -> str:
    """Key id: the first 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def generate_seed() -> str:
    """A fresh private key seed, base64 (for ``provenance keygen``)."""
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """Parse a public key given as base64 or hex of its 32 raw bytes."""
    return Ed25519PublicKey.from_public_bytes(_decode_key(text, "public key"))


def verify_signature(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    """True when ``signature_b64`` is a valid Ed25519 signature of ``message``."""
    try:
        key = load_public_key(public_key_b64)
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ConfigurationError, binascii.Error, ValueError):
        return False
    return True


class Signer:
    """Signs log checkpoints and correction events; the private key never leaves this object."""

    def __init__(self, seed: SecretStr) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(
            _decode_key(seed.get_secret_value(), "signing key")
        )
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.key_id = key_id_for(raw)

    @classmethod
    def from_text(cls, seed: str) -> Signer:
        """Signer from a seed given as plain text."""
        return cls(SecretStr(seed))

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of ``message``."""
        return base64.b64encode(self._key.sign(message)).decode()
