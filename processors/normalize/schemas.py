"""JSON Schema per dataset topic: DatasetRecord with ``values`` narrowed to the catalog's items."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contracts.record import DatasetRecord
from processors.normalize.catalog_view import EntryLike
from processors.normalize.validate import values_model

__all__ = ["dataset_schema", "write_schemas"]


def dataset_schema(entry: EntryLike, topic_prefix: str = "sensegate.") -> dict[str, Any]:
    """JSON Schema (2020-12) of the records carried on ``<prefix>data.<code>``."""
    schema = DatasetRecord.model_json_schema(mode="serialization")
    values = values_model(entry).model_json_schema(mode="serialization")
    values.pop("title", None)
    values["description"] = (
        f"Values of {entry.code} in canonical units (x-ucum); absent or null when not observed; "
        "items marked x-sensitivity identifier hold keyed pseudonyms, never clear values."
    )
    props = schema["properties"]
    props["values"] = values
    props["dataset"] = {"const": entry.code, "type": "string"}
    props["catalog_version"] = {"const": entry.version, "type": "integer"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:sensegate:schema:data:{entry.code}:v{entry.version}"
    schema["title"] = f"{topic_prefix}data.{entry.code}"
    schema["description"] = (
        f"One normalized record of catalog dataset {entry.code} (version {entry.version}); "
        "Kafka key = entity_id, value = this JSON document."
    )
    return schema


def write_schemas(entries: Iterable[EntryLike], directory: Path) -> list[Path]:
    """Write one ``<code>.schema.json`` per entry into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for entry in entries:
        path = directory / f"{entry.code}.schema.json"
        text = json.dumps(dataset_schema(entry), indent=2, ensure_ascii=False, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written
