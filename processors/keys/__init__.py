"""Rotating keys kept in the state folder (pseudonym, share, signing): keyrings and their rotation."""

from processors.keys.keyring import KeyKind, KeyRecord, Keyring, keyring_path, write_private

__all__ = ["KeyKind", "KeyRecord", "Keyring", "keyring_path", "write_private"]
