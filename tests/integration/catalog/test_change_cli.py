"""The C14 change-control commands end to end against the real PostgreSQL (private schema)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processors.__main__ import main
from tests.fixtures.services import StackAddresses

CATALOG = Path(__file__).resolve().parents[3] / "catalog"


def test_propose_review_apply_log_diff(
    stack: StackAddresses,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SENSEGATE_DB__DSN", stack.pg_dsn)
    monkeypatch.setenv("SENSEGATE_DB__SCHEMA_NAME", schema)
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    cat = ["catalog", "--catalog", str(root)]
    assert main([*cat, "register", "--no-write-back"]) == 0
    keys = {p: tmp_path / f"{p}.pem" for p in ("steward", "officer")}
    for principal, key in keys.items():
        assert main([*cat, "keygen", "--principal", principal, "--out", str(key), "--register"]) == 0
    assert main([*cat, "keygen", "--principal", "steward", "--out", str(keys["steward"])]) == 1
    path = root / "v2x_road_event.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("retention_days: 730", "retention_days: 1095"))
    capsys.readouterr()
    assert main([*cat, "register", "--no-write-back"]) == 1  # unreviewed change refused
    assert "C14: v2x_road_event" in capsys.readouterr().err
    as_steward = ["--principal", "steward", "--key", str(keys["steward"])]
    assert main([*cat, "propose", "v2x_road_event", *as_steward]) == 0
    change = capsys.readouterr().out.split()[1]
    assert main([*cat, "apply", change, *as_steward]) == 1  # not reviewed
    assert main([*cat, "review", change, *as_steward, "--decision", "approve"]) == 1  # own author
    assert "its own author" in capsys.readouterr().err
    as_officer = ["--principal", "officer", "--key", str(keys["officer"])]
    assert main([*cat, "review", change, *as_officer, "--decision", "approve"]) == 0
    assert main([*cat, "apply", change, *as_steward]) == 0
    out = capsys.readouterr().out
    assert "v2x_road_event version 2" in out and "file updated" in out
    assert "version: 2" in path.read_text(encoding="utf-8")
    assert main([*cat, "log", "v2x_road_event"]) == 0
    log = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in log] == ["proposed", "reviewed", "effective"]
    assert all("[ok]" in line for line in log)
    assert main([*cat, "diff", "v2x_road_event", "1", "2"]) == 0
    assert capsys.readouterr().out.split() == ["retention_days:", "-", "730", "+", "1095"]
