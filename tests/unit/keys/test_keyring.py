"""Keyrings: rotation retires the active key, prune destroys past retention, signing keeps publics."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from processors.keys import KeyKind, Keyring, keyring_path
from processors.provenance.keys import Signer, verify_signature

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_rotation_keeps_old_pseudonym_key_until_retention_passes(tmp_path: Path) -> None:
    ring = Keyring.new(KeyKind.PSEUDONYM, T0)
    first = ring.active_id
    new = ring.rotate(T0 + timedelta(days=30))
    assert ring.active_id == new.key_id != first
    assert ring.keys[first].retired == T0 + timedelta(days=30)
    assert ring.keys[first].secret is not None  # kept: records made with it may still exist
    assert ring.prune(timedelta(days=365), T0 + timedelta(days=300)) == []
    assert ring.prune(timedelta(days=365), T0 + timedelta(days=396)) == [first]
    assert set(ring.keys) == {new.key_id}


def test_keyring_file_is_private_and_round_trips(tmp_path: Path) -> None:
    ring = Keyring.ensure(tmp_path, KeyKind.SHARE)
    path = keyring_path(tmp_path, KeyKind.SHARE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Keyring.load(tmp_path, KeyKind.SHARE)
    assert again.active_id == ring.active_id
    assert again.active_secret().get_secret_value() == ring.active_secret().get_secret_value()
    assert len(ring.active_secret().get_secret_value()) >= 32


def test_signing_rotation_destroys_the_old_seed_and_keeps_its_public_key(tmp_path: Path) -> None:
    ring = Keyring.new(KeyKind.SIGNING, T0)
    old_signer = Signer(ring.active_secret())
    signature = old_signer.sign(b"checkpoint before rotation")
    ring.rotate(T0 + timedelta(days=1))
    old = ring.keys[old_signer.key_id]
    assert old.secret is None and old.public == old_signer.public_key
    assert ring.active_id == Signer(ring.active_secret()).key_id != old_signer.key_id
    trusted = ring.public_keys()
    assert trusted[0] == old_signer.public_key and len(trusted) == 2
    assert any(verify_signature(k, signature, b"checkpoint before rotation") for k in trusted)
    assert ring.prune(timedelta(days=1), T0 + timedelta(days=9999)) == []


def test_share_rotation_changes_the_master_named_in_output_key_ids() -> None:
    from processors.share.deidentify import RotatingKeyring

    ring = Keyring.new(KeyKind.SHARE, T0)
    before = RotatingKeyring({ring.active_id: ring.active_secret()}, ring.active_id)
    ring.rotate(T0 + timedelta(days=1))
    after = RotatingKeyring({ring.active_id: ring.active_secret()}, ring.active_id)
    args = {"tier": "share", "dataset": "v2x_participant", "item": "ptc_id", "moment": T0, "epoch_days": 30}
    old_pseudonym, old_id = before.pseudonym("RSU00008:1", **args)  # type: ignore[arg-type]
    new_pseudonym, new_id = after.pseudonym("RSU00008:1", **args)  # type: ignore[arg-type]
    assert old_id.split(":")[0] != new_id.split(":")[0] == ring.active_id
    assert old_pseudonym != new_pseudonym
