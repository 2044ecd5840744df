"""Validation of consumed records before any SQL: catalog, identity and item types."""

from __future__ import annotations

import pytest

from contracts.dead_letter import ReasonCode
from processors.catalog import Catalog
from processors.sinks.base import SinkInput
from processors.sinks.rows import RowRejected, coerce_values, prepare, provenance_id_for
from tests.fixtures.records import soil_record


def _input(value: bytes, topic: str = "p.data.agri_soil") -> SinkInput:
    return SinkInput(topic, 0, 7, value)


def test_valid_record_is_typed_in_item_order(catalog: Catalog) -> None:
    rec = soil_record(3, extra={"f_cnt": 3.0})
    row = prepare(_input(rec.to_kafka_value()), catalog, "p.")
    names = [i.name for i in row.entry.items]
    values = dict(zip(names, row.values, strict=True))
    assert values["f_cnt"] == 3
    assert isinstance(values["f_cnt"], int)
    assert values["soil_ec"] is None
    assert row.provenance_id == provenance_id_for(rec)


@pytest.mark.parametrize(
    ("topic", "record_kwargs", "reason"),
    [
        ("p.data.nothing_here", {}, ReasonCode.UNKNOWN_DATASET),
        ("p.data.agri_soil", {"catalog_version": 7}, ReasonCode.UNKNOWN_CATALOG_VERSION),
        ("p.data.agri_soil", {"extra": {"battery": "full"}}, ReasonCode.DATA_REJECTED),
        ("p.data.agri_soil", {"extra": {"f_cnt": 1.5}}, ReasonCode.DATA_REJECTED),
        ("p.data.agri_soil", {"extra": {"colour": 1.0}}, ReasonCode.DATA_REJECTED),
        ("p.data.agri_weather", {}, ReasonCode.DATA_REJECTED),
    ],
)
def test_rejections(
    catalog: Catalog, topic: str, record_kwargs: dict[str, object], reason: ReasonCode
) -> None:
    rec = soil_record(1, **record_kwargs)  # type: ignore[arg-type]
    with pytest.raises(RowRejected) as info:
        prepare(_input(rec.to_kafka_value(), topic), catalog, "p.")
    assert info.value.reason is reason


def test_garbage_and_forged_identity_are_rejected(catalog: Catalog) -> None:
    with pytest.raises(RowRejected, match="not a dataset record"):
        prepare(_input(b"{not json"), catalog, "p.")
    forged = soil_record(1).model_copy(update={"record_id": "0" * 64})
    with pytest.raises(RowRejected, match="natural key"):
        prepare(_input(forged.to_kafka_value()), catalog, "p.")


def test_types_and_required_items(catalog: Catalog) -> None:
    entry = catalog.get("iiot_metric")
    assert entry is not None
    with pytest.raises(RowRejected, match="required item edge_node"):
        coerce_values(entry, {"metric": "m", "datatype": "Double"})
    with pytest.raises(RowRejected, match="NUL"):
        coerce_values(entry, {"edge_node": "a\x00b", "metric": "m", "datatype": "Double"})
    with pytest.raises(RowRejected, match="boolean"):
        coerce_values(entry, {"edge_node": "e", "metric": "m", "datatype": "B", "stale": 1})
    with pytest.raises(RowRejected, match="not finite"):
        coerce_values(
            entry, {"edge_node": "e", "metric": "m", "datatype": "D", "value_double": float("inf")}
        )
