"""F34: the important-data register lists important/core entries and sensitive areas, as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

from processors.catalog import load_catalog
from processors.catalog.important import REGISTER_COLUMNS, register_csv, register_json
from processors.cli.catalog import add_arguments, run


def test_register_holds_exactly_the_important_entries_and_areas() -> None:
    catalog = load_catalog()
    doc = json.loads(register_json(catalog))
    codes = [(r["kind"], r["code"]) for r in doc["rows"]]
    important = [e.code for e in catalog if e.grade in ("important", "core")]
    assert [c for k, c in codes if k == "dataset"] == important == ["v2x_participant"]
    assert ("sensitive_area", "cc-demo-site-1") in codes
    row = doc["rows"][0]
    assert row["basis"] and row["holder"] == "jl_traffic_police" and row["security_measures"]
    assert "general" not in {r["grade"] for r in doc["rows"]}


def test_register_csv_has_the_columns_and_the_same_rows(capsys: object) -> None:
    catalog = load_catalog()
    rows = list(csv.DictReader(io.StringIO(register_csv(catalog))))
    assert tuple(rows[0]) == REGISTER_COLUMNS
    assert [r["code"] for r in rows] == [
        r["code"] for r in json.loads(register_json(catalog))["rows"]
    ]


def test_cli_important_register_json(tmp_path: object) -> None:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    target = Path(str(tmp_path)) / "register.json"
    args = parser.parse_args(["important-register", "--format", "json", "-o", str(target)])
    assert run(args) == 0
    assert json.loads(target.read_text())["rows"][0]["code"] == "v2x_participant"
