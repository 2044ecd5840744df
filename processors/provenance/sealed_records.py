"""Dataset records whose personal values travel sealed under the data subject's key.

A record of a personal dataset (``erasable_columns``: the items with a ``sensitivity`` and the
``location``) leaves normalize with those values moved out of ``values``/``location`` into one
``sealed`` token (``contracts.sealed``) under the subject's key from ``pi_subject_key``. The token
is bound to the tier, dataset and record id, so it cannot be replayed onto another record. The sink
and the share service open it through the key table; once ``erase-subject`` destroyed the key, the
token opens nowhere (``KeyDestroyed``). The share tier seals its own form of the values under a key
derived per tier from the subject key (``tier_key``), so a share consumer never holds the data-topic key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import msgspec

from contracts.record import (
    DatasetRecord,
    GeoPoint,
    RecordValue,
    WireGeoPoint,
    WireRecord,
    WireSealedRecord,
    wire_fields,
    wire_point,
)
from contracts.sealed import KeyLookup, SealInvalid, open_token, seal
from processors.catalog import DatasetEntry
from processors.storage.ddl import erasable_columns

__all__ = [
    "open_model",
    "open_wire",
    "personal_items",
    "seal_model",
    "seal_wire",
    "tier_key",
]


class _Sealed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The plaintext of a record's token: its personal values and its location."""

    values: dict[str, RecordValue]
    location: WireGeoPoint | None = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Sealed).decode


def personal_items(entry: DatasetEntry) -> tuple[str, ...]:
    """The items of ``entry`` that are sealed (its erasable columns but ``location``)."""
    return tuple(n for n in erasable_columns(entry) if n != "location")


def tier_key(key: bytes, tier: str, dataset: str) -> bytes:
    """The key a tier other than ``data`` seals with: derived from the subject key, one-way."""
    if tier == "data":
        return key
    return hmac.new(key, f"sensegate seal|{tier}|{dataset}".encode(), hashlib.sha256).digest()


def _context(tier: str, dataset: str, record_id: str) -> str:
    return f"{tier}|{dataset}|{record_id}"


def _split(
    values: Mapping[str, RecordValue], names: tuple[str, ...]
) -> tuple[dict[str, RecordValue], dict[str, RecordValue]]:
    kept = {k: v for k, v in values.items() if k not in names}
    return kept, {k: v for k, v in values.items() if k in names}


def seal_wire(record: WireRecord, names: tuple[str, ...], key: bytes, kid: str) -> WireSealedRecord:
    """The data-topic form of ``record`` with its personal values sealed under ``key``."""
    kept, personal = _split(record.values, names)
    token = seal(
        key, kid, _encode(_Sealed(personal, record.location)),
        _context("data", record.dataset, record.record_id),
    )  # fmt: skip
    fields = wire_fields(record)
    return WireSealedRecord(**{**fields, "values": kept, "location": None, "sealed": token})


def _opened(token: str, keys: KeyLookup, context: str) -> _Sealed:
    plain = open_token(token, keys, context)
    try:
        return _decode(plain)
    except msgspec.MsgspecError as exc:
        msg = f"sealed values are not a record's personal values: {exc}"
        raise SealInvalid(msg) from exc


def open_wire(record: WireSealedRecord, keys: KeyLookup) -> WireRecord:
    """The plain record of a sealed one; raises KeyDestroyed or SealInvalid."""
    inner = _opened(record.sealed, keys, _context("data", record.dataset, record.record_id))
    if set(inner.values) & set(record.values):
        msg = "sealed items also appear in clear"
        raise SealInvalid(msg)
    fields = wire_fields(record)
    return WireRecord(
        **{**fields, "values": {**record.values, **inner.values}, "location": inner.location}
    )


def open_model(record: DatasetRecord, keys: KeyLookup, tier: str = "data") -> DatasetRecord:
    """The plain form of a sealed ``DatasetRecord`` of ``tier``; a plain one is returned as is."""
    if record.sealed is None:
        return record
    inner = _opened(record.sealed, keys, _context(tier, record.dataset, record.record_id))
    if set(inner.values) & set(record.values):
        msg = "sealed items also appear in clear"
        raise SealInvalid(msg)
    where = inner.location
    location = (
        None
        if where is None
        else GeoPoint(lat=where.lat, lon=where.lon, elevation_m=where.elevation_m)
    )
    update: dict[str, Any] = {"values": {**record.values, **inner.values}, "location": location}
    return record.model_copy(update={**update, "sealed": None})


def seal_model(
    record: DatasetRecord, names: tuple[str, ...], key: bytes, kid: str, tier: str
) -> DatasetRecord:
    """``record`` with its personal values and location sealed for ``tier`` (key already derived)."""
    kept, personal = _split(record.values, names)
    token = seal(
        key, kid, _encode(_Sealed(personal, wire_point(record.location))),
        _context(tier, record.dataset, record.record_id),
    )  # fmt: skip
    return record.model_copy(update={"values": kept, "location": None, "sealed": token})
