"""C14 change control, pure part: Ed25519 signing of change events, diffs and the direction of a change.

A catalog change is a chain of signed events ``proposed`` -> ``reviewed`` -> ``effective``. Each
event body is canonical JSON (sorted keys, no spaces, UTF-8) holding the previous event's hash,
so the log is a hash chain and every event is signed by its actor's key. The database side lives
in ``processors.catalog.change_log``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "GENESIS",
    "Direction",
    "Signer",
    "canonical",
    "definition_diff",
    "direction_of",
    "key_id_of",
    "load_private_key",
    "public_key_b64",
    "sha256_hex",
    "verify_event",
    "write_private_key",
]

GENESIS = "0" * 64
Direction = Literal["tighten", "loosen", "mixed", "neutral"]

# Stricter is higher; "none" is the strictest class (nothing leaves).
_CLASS_RANK = {"unconditional": 0, "conditional": 1, "none": 2}
_GRADE_RANK = {"general": 0, "important": 1, "core": 2}
_RANKED = {"grade": _GRADE_RANK, "share_class": _CLASS_RANK, "open_class": _CLASS_RANK}


def canonical(doc: Any) -> bytes:
    """Canonical JSON bytes of ``doc``: sorted keys, no whitespace, UTF-8 (what is signed)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """Key id: the first 16 hex digits of the SHA-256 of the raw public key."""
    return sha256_hex(_raw_public(key))[:16]


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    return base64.b64encode(_raw_public(key)).decode()


def write_private_key(path: Path) -> Ed25519PrivateKey:
    """Generate a key and write it as PKCS#8 PEM, mode 0600, refusing to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as fh:  # 'x': never replace a key someone already holds
        path.chmod(0o600)
        fh.write(pem)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PKCS#8 PEM Ed25519 private key; ValueError when it is not one."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"{path} is not an Ed25519 private key"
        raise ValueError(msg)
    return key


@dataclass(frozen=True, slots=True)
class Signer:
    """A principal and their private key: signs event bodies."""

    principal: str
    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        """Key id of the public half."""
        return key_id_of(self.key.public_key())

    def sign(self, body: Mapping[str, Any]) -> str:
        """Base64 Ed25519 signature over the canonical body."""
        return base64.b64encode(self.key.sign(canonical(dict(body)))).decode()


def verify_event(public_key_b64_text: str, body: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` is the key's Ed25519 signature over the canonical ``body``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64_text))
        key.verify(base64.b64decode(signature), canonical(dict(body)))
    except (InvalidSignature, ValueError):
        return False
    return True


def definition_diff(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Top-level fields that differ (``version`` ignored): field -> (old value, new value)."""
    keys = (set(old) | set(new)) - {"version"}
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def _item_classes(doc: Mapping[str, Any]) -> dict[tuple[str, str], str | None]:
    out: dict[tuple[str, str], str | None] = {}
    for item in doc.get("items") or ():
        for tier in ("share_class", "open_class"):
            out[(str(item.get("name")), tier)] = item.get(tier)
    return out


def direction_of(old: Mapping[str, Any], new: Mapping[str, Any]) -> Direction:
    """Whether a change tightens, loosens, both, or neither the grade and share/open classes.

    Entry grade and classes and C11 item overrides count (an item override appearing tightens it,
    one disappearing loosens it); other fields are neutral but still need review.
    """
    tighter = looser = False
    for name, rank in _RANKED.items():
        a, b = rank.get(str(old.get(name))), rank.get(str(new.get(name)))
        if a is not None and b is not None:
            tighter |= b > a
            looser |= b < a
    before, after = _item_classes(old), _item_classes(new)
    entry = {"share_class": new.get("share_class"), "open_class": new.get("open_class")}
    for key in set(before) & set(after):
        # An item without an override follows its entry's class.
        a = _CLASS_RANK.get(str(before[key] or old.get(key[1])), 0)
        b = _CLASS_RANK.get(str(after[key] or entry[key[1]]), 0)
        tighter |= b > a
        looser |= b < a
    if tighter and looser:
        return "mixed"
    if tighter:
        return "tighten"
    return "loosen" if looser else "neutral"
