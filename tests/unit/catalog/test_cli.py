"""The catalog CLI's offline actions (no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from processors.__main__ import main
from processors.cli.catalog import write_back_version


def test_list_show_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "list"]) == 0
    assert "v2x_participant" in capsys.readouterr().out
    assert main(["catalog", "show", "agri_soil"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["code"] == "agri_soil" and len(shown["content_sha256"]) == 64
    assert main(["catalog", "show", "nope"]) == 1
    capsys.readouterr()
    assert main(["catalog", "lists", "open", "--json"]) == 0
    lists = json.loads(capsys.readouterr().out)
    assert set(lists) == {"open"}
    assert "v2x_participant" not in {r["code"] for r in lists["open"]}


def test_validate_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "validate"]) == 0
    bad = tmp_path / "agri_bad.yaml"
    bad.write_text("code: agri_bad\nversion: 1\nfamily: agri\n")
    assert main(["catalog", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "agri_bad.yaml: provider: Field required" in err


def test_export_dcat_to_file(tmp_path: Path) -> None:
    out = tmp_path / "dcat.jsonld"
    assert main(["catalog", "export-dcat", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert "@context" in doc and len(doc["@graph"]) > 7


def test_write_back_keeps_comments(tmp_path: Path) -> None:
    file = tmp_path / "agri_x.yaml"
    file.write_text("# why\ncode: agri_x\nversion: 1\nitems: []\n")
    assert write_back_version(tmp_path, "agri_x", 3)
    assert file.read_text() == "# why\ncode: agri_x\nversion: 3\nitems: []\n"
