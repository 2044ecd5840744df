"""C14 change control, pure part: signatures over canonical bodies, diffs, tighten/loosen direction."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from processors.catalog import load_catalog
from processors.catalog.changes import (
    Signer,
    definition_diff,
    direction_of,
    key_id_of,
    load_private_key,
    public_key_b64,
    verify_event,
    write_private_key,
)


def test_signature_verifies_and_any_change_breaks_it() -> None:
    signer = Signer("alice", Ed25519PrivateKey.generate())
    body = {"action": "proposed", "code": "agri_soil", "fields": ["open_class"], "名": "土壤"}
    signature = signer.sign(body)
    public = public_key_b64(signer.key.public_key())
    assert verify_event(public, dict(reversed(body.items())), signature)  # key order irrelevant
    assert not verify_event(public, body | {"fields": ["grade"]}, signature)
    other = public_key_b64(Ed25519PrivateKey.generate().public_key())
    assert not verify_event(other, body, signature)
    assert not verify_event(public, body, "not-base64!")
    assert len(signer.key_id) == 16 and signer.key_id == key_id_of(signer.key.public_key())


def test_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "alice.pem"
    key = write_private_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_id_of(load_private_key(path).public_key()) == key_id_of(key.public_key())
    with pytest.raises(FileExistsError):
        write_private_key(path)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"open_class": "none"}, "tighten"),
        ({"grade": "important"}, "tighten"),
        ({"share_class": "conditional"}, "tighten"),
        ({"open_class": "unconditional"}, "loosen"),
        ({"open_class": "none", "share_class": "unconditional", "grade": "general"}, "tighten"),
        ({"retention_days": 10}, "neutral"),
    ],
)
def test_direction_of_a_change(changes: dict[str, str], expected: str) -> None:
    soil = load_catalog().get("agri_soil")
    assert soil is not None  # general, share unconditional, open conditional
    old = soil.definition()
    assert direction_of(old, old | changes) == expected
    assert set(definition_diff(old, old | changes | {"version": 9})) <= set(changes)


def test_mixed_and_item_override_directions() -> None:
    soil = load_catalog().get("agri_soil")
    assert soil is not None
    old = soil.definition()
    mixed = old | {"open_class": "unconditional", "grade": "important"}
    assert direction_of(old, mixed) == "mixed"
    items = [dict(i) for i in old["items"]]
    items[0]["open_class"] = "none"
    assert direction_of(old, old | {"items": items}) == "tighten"
    assert direction_of(old | {"items": items}, old) == "loosen"
