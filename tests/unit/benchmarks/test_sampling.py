"""Summaries of py-spy's collapsed stacks and their lines in the report."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import profile_lines
from benchmarks.sampling import summarize


def test_summary_shares_by_leaf_and_by_any_frame(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(
        "run (processors/normalize/runner.py:10);process (processors/normalize/processor.py:120);"
        "validate (processors/normalize/validate.py:140) 6\n"
        "run (processors/normalize/runner.py:10);process (processors/normalize/processor.py:131) 3\n"
        "run (processors/normalize/runner.py:12) 1\n"
        "garbage line without a count\n"
    )
    doc = summarize(raw)
    assert doc["samples"] == 10
    assert doc["self"][0] == ("validate (normalize/validate.py)", 0.6)
    assert ("process (normalize/processor.py)", 0.3) in doc["self"]  # lines 120 and 131 merged
    assert doc["inclusive"][0] == ("run (normalize/runner.py)", 1.0)
    assert ("process (normalize/processor.py)", 0.9) in doc["inclusive"]


def test_missing_file_is_an_empty_profile(tmp_path: Path) -> None:
    assert summarize(tmp_path / "none.raw") == {"samples": 0, "self": [], "inclusive": []}


def test_profile_lines_name_each_process_with_shares() -> None:
    prof = {"samples": 10, "self": [("validate (normalize/validate.py)", 0.6)],
            "inclusive": [("run (normalize/runner.py)", 1.0)]}
    results = {"e2e": {"saturation": {"profile": {"normalize": prof, "sink": {"samples": 0}}}}}
    lines = profile_lines(results)
    assert lines[1] == "normalize: 10 samples; self time (leaf function) | inclusive"
    assert lines[2].startswith("  60.0% validate (normalize/validate.py)")
    assert lines[2].rstrip().endswith("| 100.0% run (normalize/runner.py)")
    assert not any("sink" in line for line in lines)
