"""Keyrings of the state folder: pseudonym, share and signing keys with ids, rotation and destruction.

A keyring is one JSON file (mode 0600) holding every key of one kind: its id, secret, creation time
and, once superseded, its retirement time. Exactly one key is active. Rotation adds a fresh key and
retires the active one; ``prune`` destroys (removes) retired keys whose retention has passed.
Signing keys are different: a retired signing key's private seed is destroyed at rotation (nothing
may sign with it again) but its public key stays for good, so old checkpoints remain verifiable.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from processors.exceptions import ConfigurationError
from processors.provenance.keys import Signer, generate_seed

__all__ = ["KeyKind", "KeyRecord", "Keyring", "keyring_path", "write_private"]

# Random bytes of a pseudonym or share master secret (256 bits, base64url-encoded).
_SECRET_BYTES = 32


class KeyKind(StrEnum):
    """The three rotating key kinds."""

    PSEUDONYM = "pseudonym"
    SHARE = "share"
    SIGNING = "signing"


_PREFIX = {KeyKind.PSEUDONYM: "pn", KeyKind.SHARE: "sh"}


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte, replacing atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def keyring_path(state: Path, kind: KeyKind) -> Path:
    """Where the keyring of ``kind`` lives in the state folder."""
    return state / "secrets" / f"{kind.value}-keys.json"


@dataclass
class KeyRecord:
    """One key: ``secret`` is None once destroyed (signing keys keep ``public`` after that)."""

    key_id: str
    created: datetime
    secret: SecretStr | None
    retired: datetime | None = None
    public: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (the only place a secret is unwrapped: the 0600 keyring file)."""
        return {
            "created": self.created.isoformat(),
            "retired": self.retired.isoformat() if self.retired else None,
            "secret": self.secret.get_secret_value() if self.secret else None,
            "public": self.public,
        }

    @classmethod
    def from_json(cls, key_id: str, doc: dict[str, Any]) -> KeyRecord:
        """Parse one key of a keyring file."""
        retired = doc.get("retired")
        secret = doc.get("secret")
        return cls(
            key_id=key_id,
            created=datetime.fromisoformat(doc["created"]),
            secret=SecretStr(secret) if secret else None,
            retired=datetime.fromisoformat(retired) if retired else None,
            public=doc.get("public"),
        )


@dataclass
class Keyring:
    """All keys of one kind and the id of the active one."""

    kind: KeyKind
    active_id: str
    keys: dict[str, KeyRecord] = field(default_factory=dict)

    @property
    def active(self) -> KeyRecord:
        """The key in use."""
        return self.keys[self.active_id]

    def active_secret(self) -> SecretStr:
        """The active key's secret (a rotation never leaves the active key without one)."""
        secret = self.active.secret
        if secret is None:
            msg = f"the active {self.kind.value} key {self.active_id} has no secret"
            raise ConfigurationError(msg)
        return secret

    def public_keys(self) -> list[str]:
        """Signing keyrings: every public key ever active, oldest first (the verifiers' trust set)."""
        ordered = sorted(self.keys.values(), key=lambda k: k.created)
        return [k.public for k in ordered if k.public]

    @classmethod
    def new(cls, kind: KeyKind, now: datetime | None = None) -> Keyring:
        """A keyring holding one fresh active key."""
        ring = cls(kind=kind, active_id="")
        ring._add(now or datetime.now(UTC))
        return ring

    def _add(self, now: datetime) -> KeyRecord:
        if self.kind is KeyKind.SIGNING:
            seed = SecretStr(generate_seed())
            signer = Signer(seed)
            # The signer's own id (hash of the public key) is what checkpoints carry.
            record = KeyRecord(signer.key_id, now, seed, public=signer.public_key)
        else:
            key_id = f"{_PREFIX[self.kind]}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
            raw = secrets.token_bytes(_SECRET_BYTES)
            record = KeyRecord(key_id, now, SecretStr(base64.urlsafe_b64encode(raw).decode()))
        self.keys[record.key_id] = record
        self.active_id = record.key_id
        return record

    def rotate(self, now: datetime | None = None) -> KeyRecord:
        """Retire the active key and make a fresh one active; returns the new key."""
        moment = now or datetime.now(UTC)
        old = self.active
        old.retired = moment
        if self.kind is KeyKind.SIGNING:
            old.secret = None  # nothing may sign with a retired key; its public key stays
        return self._add(moment)

    def prune(self, retention: timedelta, now: datetime | None = None) -> list[str]:
        """Destroy retired keys retired longer than ``retention`` ago; returns their ids.

        Pseudonym and share keys are removed outright. Signing keys are never removed: their
        seed is already gone and their public key must keep verifying old checkpoints.
        """
        if self.kind is KeyKind.SIGNING:
            return []
        moment = now or datetime.now(UTC)
        gone = [
            k.key_id
            for k in self.keys.values()
            if k.retired is not None and k.retired + retention <= moment
        ]
        for key_id in gone:
            del self.keys[key_id]
        return gone

    def dumps(self) -> str:
        """JSON text of the keyring file."""
        doc = {
            "kind": self.kind.value,
            "active": self.active_id,
            "keys": {k: v.to_json() for k, v in self.keys.items()},
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def loads(cls, text: str) -> Keyring:
        """Parse a keyring file."""
        doc = json.loads(text)
        ring = cls(kind=KeyKind(doc["kind"]), active_id=doc["active"])
        ring.keys = {k: KeyRecord.from_json(k, v) for k, v in doc["keys"].items()}
        if ring.active_id not in ring.keys:
            msg = f"{ring.kind.value} keyring: active key {ring.active_id!r} is missing"
            raise ConfigurationError(msg)
        return ring

    @classmethod
    def load(cls, state: Path, kind: KeyKind) -> Keyring:
        """Read the keyring of ``kind`` from the state folder."""
        path = keyring_path(state, kind)
        if not path.exists():
            msg = f"no {kind.value} keyring at {path} (run 'make stack-up' first)"
            raise ConfigurationError(msg)
        return cls.loads(path.read_text(encoding="utf-8"))

    @classmethod
    def ensure(cls, state: Path, kind: KeyKind) -> Keyring:
        """Load the keyring of ``kind``, creating it with one fresh key the first time."""
        path = keyring_path(state, kind)
        if path.exists():
            return cls.loads(path.read_text(encoding="utf-8"))
        ring = cls.new(kind)
        ring.save(state)
        return ring

    def save(self, state: Path) -> Path:
        """Write the keyring back (0600); returns its path."""
        path = keyring_path(state, self.kind)
        write_private(path, self.dumps())
        return path
