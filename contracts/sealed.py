"""Sealed values: AES-256-GCM under a destroyable data key, named by the key's id (crypto-shredding).

Text form (JSON-safe, one token): ``sg1.<kid>.<base64url(nonce || ciphertext || tag)>``

* ``kid``: the key's id, lower-case hex (the key table's ``key_id``); it names the key, never
  derives from the data or the subject;
* nonce: 12 random bytes per seal; tag: GCM's 16 bytes;
* associated data: ``sg1|<kid>|<context>``, where the caller's ``context`` binds the token to its
  place (dataset and record id, or a raw message's coordinates), so a token moved elsewhere fails.

Opening needs the key: a destroyed key (``KeyDestroyed``) means the value was erased; a wrong key,
an altered token or a token moved to another context fails authentication (``SealInvalid``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.dead_letter import ReasonCode
from contracts.errors import Rejected

__all__ = [
    "KEY_BYTES",
    "SEALED_FIELD_KID",
    "KeyDestroyed",
    "KeyLookup",
    "SealInvalid",
    "kid_of",
    "new_key_id",
    "open_token",
    "raw_context",
    "seal",
]

KEY_BYTES = 32
_NONCE = 12
_PREFIX = "sg1"
_KID = re.compile(r"^[0-9a-f]{16,64}$")

# The key id of a JSON value's ``"sealed"`` token, found without parsing the value (consumers fetch
# the keys of a whole batch first).
SEALED_FIELD_KID = re.compile(rb'"sealed":"sg1\.([0-9a-f]{16,64})\.')

# Key id -> key, or None when the key is unknown or destroyed.
KeyLookup = Callable[[str], bytes | None]


class SealInvalid(Rejected):
    """A sealed token is malformed, altered, moved, or opened with the wrong key (``seal_invalid``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.SEAL_INVALID, detail)


class KeyDestroyed(Rejected):
    """The token's key is destroyed (or was never registered): its value is erased (``subject_erased``)."""

    def __init__(self, kid: str) -> None:
        super().__init__(ReasonCode.SUBJECT_ERASED, f"data key {kid} is destroyed or unknown")
        self.kid = kid


def new_key_id() -> str:
    """A fresh random key id (128 bits, hex): unrelated to any key, subject or device."""
    return os.urandom(16).hex()


def raw_context(family: str, device_id: str, received_ns: int) -> str:
    """What a sealed raw payload is bound to: family, device and receive time (envelope headers)."""
    return f"raw|{family}|{device_id}|{received_ns}"


def _aad(kid: str, context: str) -> bytes:
    return f"{_PREFIX}|{kid}|{context}".encode()


def seal(key: bytes, kid: str, plaintext: bytes, context: str) -> str:
    """The sealed token of ``plaintext`` under ``key`` (id ``kid``), bound to ``context``."""
    if len(key) != KEY_BYTES:
        msg = f"a data key has {KEY_BYTES} bytes, not {len(key)}"
        raise SealInvalid(msg)
    if not _KID.match(kid):
        msg = f"invalid key id {kid!r}"
        raise SealInvalid(msg)
    nonce = os.urandom(_NONCE)
    body = nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(kid, context))
    return f"{_PREFIX}.{kid}.{base64.urlsafe_b64encode(body).decode().rstrip('=')}"


def kid_of(token: str) -> str:
    """The key id a token names; raises SealInvalid for anything that is not a token."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not _KID.match(parts[1]):
        msg = "not a sealed token (sg1.<kid>.<data>)"
        raise SealInvalid(msg)
    return parts[1]


def open_token(token: str, keys: KeyLookup, context: str) -> bytes:
    """The plaintext of ``token``; raises KeyDestroyed (no key) or SealInvalid (anything else)."""
    kid = kid_of(token)
    data = token.split(".")[2]
    try:
        body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as exc:
        msg = "sealed data is not base64url"
        raise SealInvalid(msg) from exc
    if len(body) < _NONCE + 16:
        msg = "sealed data too short"
        raise SealInvalid(msg)
    key = keys(kid)
    if key is None:
        raise KeyDestroyed(kid)
    try:
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], _aad(kid, context))
    except InvalidTag as exc:
        msg = f"sealed data under key {kid} fails authentication (altered, moved or wrong key)"
        raise SealInvalid(msg) from exc
