"""The sealed-value envelope (contracts/sealed.py) and sealed dataset records: pure logic."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from contracts.dead_letter import ReasonCode
from contracts.record import (
    DatasetRecord,
    WireRecord,
    WireSealedRecord,
    decode_wire_record,
    decode_wire_sealed,
    record_id_for,
    wire_fields,
    wire_to_model,
)
from contracts.sealed import KeyDestroyed, SealInvalid, kid_of, new_key_id, open_token, seal
from processors.catalog import load_catalog
from processors.provenance.sealed_records import (
    open_model,
    open_wire,
    personal_items,
    seal_model,
    seal_wire,
    tier_key,
)
from tests.fixtures.share_data import participant_records

KEY, OTHER = b"k" * 32, b"o" * 32
KID = new_key_id()


def _keys(kid: str) -> bytes | None:
    return KEY if kid == KID else None


def test_round_trip_and_the_token_reveals_nothing() -> None:
    token = seal(KEY, KID, b"43.9123456", "data|v2x_participant|r1")
    assert token.startswith(f"sg1.{KID}.") and kid_of(token) == KID
    assert b"43.91" not in base64.urlsafe_b64decode(token.split(".")[2] + "==")
    assert open_token(token, _keys, "data|v2x_participant|r1") == b"43.9123456"
    # a fresh nonce per seal: the same value never gives the same token
    assert seal(KEY, KID, b"43.9123456", "c") != seal(KEY, KID, b"43.9123456", "c")


def test_destroyed_or_wrong_key_is_a_clear_error() -> None:
    token = seal(KEY, KID, b"secret", "ctx")
    with pytest.raises(KeyDestroyed) as destroyed:
        open_token(token, lambda _kid: None, "ctx")
    assert destroyed.value.reason is ReasonCode.SUBJECT_ERASED and KID in destroyed.value.detail
    with pytest.raises(SealInvalid) as wrong:
        open_token(token, lambda _kid: OTHER, "ctx")
    assert wrong.value.reason is ReasonCode.SEAL_INVALID


def test_tampered_moved_or_malformed_tokens_are_refused() -> None:
    token = seal(KEY, KID, b"secret", "data|d|r1")
    head, kid, data = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    raw[-1] ^= 1
    flipped = f"{head}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    for bad, context in (
        (flipped, "data|d|r1"),  # a bit of the ciphertext or tag changed
        (token, "data|d|r2"),  # moved to another record
        (token.replace(KID, new_key_id()), "data|d|r1"),  # relabelled with another key's id
    ):
        with pytest.raises((SealInvalid, KeyDestroyed)):
            open_token(
                bad, lambda k: KEY if k in (KID,) else (KEY if len(k) == 32 else None), context
            )
    for junk in ("", "sg1", "sg2.abcdefabcdefabcd.AAAA", f"sg1.{KID}.%%%", f"sg1.{KID}.AAAA"):
        with pytest.raises(SealInvalid):
            open_token(junk, _keys, "ctx")
    with pytest.raises(SealInvalid):
        seal(b"short", KID, b"x", "ctx")
    with pytest.raises(SealInvalid):
        seal(KEY, "NOT-HEX", b"x", "ctx")


def _participant(hour: int) -> DatasetRecord:
    """A participant row as normalize writes it: entity = the RSU, no identifier in the key."""
    row = participant_records(datetime(2026, 1, 5, hour, tzinfo=UTC), vehicles=1, steps=1)[0]
    natural = f"RSU-CC-0001|rsm|{hour}|p0"
    return row.model_copy(
        update={
            "entity_id": "RSU-CC-0001",
            "natural_key": natural,
            "record_id": record_id_for(row.dataset, natural),
        }
    )


def test_a_participant_record_seals_its_personal_items_and_location() -> None:
    entry = load_catalog().get("v2x_participant")
    assert entry is not None
    names = personal_items(entry)
    assert names == ("ptc_id", "lat", "lon")
    record = _participant(8)
    wire = decode_wire_record(record.to_kafka_value())
    sealed = seal_wire(wire, names, KEY, KID)
    text = sealed.to_kafka_value().decode()
    for value in (record.values["ptc_id"], repr(record.values["lat"]), repr(record.values["lon"])):
        assert str(value) not in text
    assert '"location":null' in text and '"speed"' in text and '"sealed":"sg1.' in text
    again = decode_wire_sealed(sealed.to_kafka_value())
    assert isinstance(again, WireSealedRecord)
    plain = open_wire(again, _keys)
    assert isinstance(plain, WireRecord) and wire_to_model(plain) == wire_to_model(wire)
    # the pydantic model reads and opens the same JSON
    model = DatasetRecord.from_kafka_value(sealed.to_kafka_value())
    assert open_model(model, _keys) == record
    with pytest.raises(KeyDestroyed):
        open_wire(again, lambda _kid: None)
    # a sealed blob copied onto another record does not open there
    other = _participant(9)
    moved = decode_wire_sealed(
        seal_wire(decode_wire_record(other.to_kafka_value()), names, KEY, KID).to_kafka_value()
    )
    forged = WireSealedRecord(
        **wire_fields(again), sealed=moved.sealed
    )
    with pytest.raises(SealInvalid):
        open_wire(forged, _keys)


def test_the_share_tier_seals_under_its_own_derived_key() -> None:
    record = _participant(8)
    share_key = tier_key(KEY, "share", "v2x_participant")
    assert share_key != KEY and tier_key(KEY, "data", "v2x_participant") == KEY
    sealed = seal_model(record, ("ptc_id", "lat", "lon"), share_key, KID, "share")
    assert sealed.location is None and "lat" not in sealed.values
    assert open_model(sealed, lambda _k: share_key, "share") == record
    with pytest.raises(SealInvalid):
        open_model(sealed, _keys, "share")  # the data key does not open the share tier
    with pytest.raises(SealInvalid):
        open_model(sealed, lambda _k: share_key, "data")  # nor does a token moved across tiers
