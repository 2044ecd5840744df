"""WireRecord (built unvalidated by normalize, serialized by msgspec) writes what DatasetRecord writes.

Checked on a generated corpus: the bytes are identical whenever every double is below 1e16 in
magnitude; above it msgspec writes ``1e16`` where pydantic writes ``1e+16`` (same number), so for
the whole corpus the check is canonical: pydantic parses our bytes into the same model and writes
back exactly its own bytes.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import msgspec
import msgspec.inspect
import pytest

from contracts.record import (
    DatasetRecord,
    GeoPoint,
    Provenance,
    WireGeoPoint,
    WireProvenance,
    WireRecord,
    WireSealedRecord,
    decode_wire_record,
    wire_point,
    wire_to_model,
)

_TEXT = ["", "a", "é中文", 'q"uote\\slash', "line\nbreak\ttab", "\u2028\x1f", "x" * 70]
_QUALITY = ["schema_ok", "range_ok", "late", "complete", "partial", "stale"]


def _double(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.1:
        return float(rng.choice([0.0, -0.0, 1.0, 0.1, 5e-324, 1e-7, 123456789.123]))
    if pick < 0.15:
        return float(rng.choice([1e16, -1e20, 1.7976931348623157e308, 2.5e17]))
    return rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-8, 8)


def _value(rng: random.Random) -> float | int | str | bool | None:
    kind = rng.randrange(5)
    if kind == 0:
        return _double(rng)
    if kind == 1:
        return rng.choice([0, -1, 2**63 - 1, -(2**63), rng.randint(-(10**9), 10**9)])
    if kind == 2:
        return rng.choice(_TEXT)
    if kind == 3:
        return rng.random() < 0.5
    return None


def _corpus(n: int, seed: int = 21) -> list[dict[str, object]]:
    rng = random.Random(seed)
    base = datetime(2026, 12, 7, tzinfo=UTC)
    out = []
    for i in range(n):
        location = None
        if rng.random() < 0.3:
            elevation = rng.choice([None, _double(rng)])
            location = GeoPoint(
                lat=rng.uniform(-90, 90), lon=rng.uniform(-180, 180), elevation_m=elevation
            )
        out.append(
            {
                "record_id": f"{i:064x}",
                "dataset": rng.choice(["agri_soil", "iiot_metric", "v2x_participant"]),
                "catalog_version": rng.randint(1, 5),
                "entity_id": rng.choice(_TEXT[1:]),
                "natural_key": f"k\x1f{i}",
                "observed_at": base + timedelta(microseconds=rng.randint(0, 10**12)),
                "received_at": base + timedelta(seconds=rng.randint(0, 10**5)),
                "values": {f"item{k}": _value(rng) for k in range(rng.randint(0, 12))},
                "location": location,
                "quality": tuple(sorted(rng.sample(_QUALITY, rng.randint(0, 4)))),
                "provenance": {
                    "raw_sha256": f"{rng.getrandbits(256):064x}",
                    "device_id": rng.choice(_TEXT[1:]),
                    "gateway_id": "gw-1",
                    "mqtt_topic": f"application/a/device/{i}/event/up",
                    "received_ns": rng.randint(0, 2**62),
                    "kafka_topic": "sensegate.raw.agri",
                    "kafka_partition": rng.randint(0, 11),
                    "kafka_offset": rng.randint(0, 2**40),
                    "codec": "chirpstack_lpp",
                    "codec_version": "1",
                    "processor_version": "0.1.0",
                    "pseudonym_key_id": rng.choice([None, "k1"]),
                },
            }
        )
    return out


def _large_double(fields: dict[str, object]) -> bool:
    values = list(fields["values"].values())  # type: ignore[attr-defined]
    location = fields["location"]
    if isinstance(location, GeoPoint):
        values.append(location.elevation_m)
    return any(isinstance(v, float) and abs(v) >= 1e16 for v in values)


def test_out_record_bytes_match_dataset_record() -> None:
    corpus = _corpus(5000)
    identical = 0
    for fields in corpus:
        prov: dict[str, object] = fields["provenance"]  # type: ignore[assignment]
        old = DatasetRecord(**{**fields, "provenance": Provenance(**prov)}).to_kafka_value()
        wire = {"provenance": WireProvenance(**prov), "location": wire_point(fields["location"])}  # type: ignore[arg-type]
        new = WireRecord(**{**fields, **wire}).to_kafka_value()
        assert decode_wire_record(new).to_kafka_value() == new
        assert DatasetRecord.from_kafka_value(new).to_kafka_value() == old
        assert json.loads(new) == json.loads(old)
        if not _large_double(fields):
            assert new == old
            identical += 1
    assert identical > len(corpus) // 2  # the byte-identity check did run on most of the corpus


def test_out_record_to_model_and_key() -> None:
    fields = _corpus(1, seed=7)[0]
    prov: dict[str, object] = fields["provenance"]  # type: ignore[assignment]
    wire = {"provenance": WireProvenance(**prov), "location": wire_point(fields["location"])}  # type: ignore[arg-type]
    record = WireRecord(**{**fields, **wire})
    model = wire_to_model(record)
    assert model.record_id == record.record_id and model.values == record.values
    assert record.kafka_key() == model.kafka_key()


def test_wire_structs_have_the_models_fields_and_bounds() -> None:
    for model, struct in (
        (GeoPoint, WireGeoPoint),
        (Provenance, WireProvenance),
        (DatasetRecord, WireRecord),
    ):
        names = [n for n in model.model_fields if n not in ("supersedes", "sealed")]
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        assert [f.name for f in info.fields] == names
    sealed = msgspec.inspect.type_info(WireSealedRecord)
    assert isinstance(sealed, msgspec.inspect.StructType)
    assert [f.name for f in sealed.fields] == [*names, "sealed"]
    fields = _corpus(1, seed=3)[0]
    prov: dict[str, object] = fields["provenance"]  # type: ignore[assignment]
    doc = json.loads(DatasetRecord(**{**fields, "provenance": Provenance(**prov)}).to_kafka_value())
    doc["location"] = {"lat": 90.5, "lon": 0.0, "elevation_m": None}
    with pytest.raises(msgspec.ValidationError, match="lat"):
        decode_wire_record(json.dumps(doc).encode())
