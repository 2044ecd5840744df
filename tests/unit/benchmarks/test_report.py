"""Table formatting and headline rows of the benchmark report."""

from __future__ import annotations

import pytest

from benchmarks.report import fmt_num, format_table, headline_rows


def test_format_table_pads_columns_and_draws_a_rule() -> None:
    text = format_table(["a", "long header"], [["x", "1"], ["wider cell", "22"]])
    lines = text.splitlines()
    assert lines[0] == "a           long header"
    assert lines[1] == "----------  -----------"
    assert lines[3] == "wider cell  22"


def test_format_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="cells"):
        format_table(["a", "b"], [["only one"]])


def test_fmt_num() -> None:
    assert fmt_num(15234.4, "msg/s") == "15,234 msg/s"
    assert fmt_num(0.4375, "ms", 3) == "0.438 ms"
    assert fmt_num(None, "msg/s") == "n/a"


def test_headline_rows_mark_missing_stages_not_available() -> None:
    results = {
        "limits": {"mqtt_qos1": {"msg_per_s": 10000.0}, "copy": {"rows_per_s": 100000.0}},
        "stages": {"gateway": {"available": True, "msg_per_s": 5000.0}, "sink": {"available": False}},
        "e2e": {},
    }
    rows = {r[0]: r for r in headline_rows(results)}
    gateway = rows["stage: gateway ingest QoS 1"]
    assert gateway[1] == "5,000 msg/s"
    assert gateway[3] == "50.0%"
    assert gateway[5] == "met"
    assert rows["stage: sink"][1] == "not available"
    assert rows["e2e saturation (sustained)"][1] == "not available"
    assert rows["overload RSS"][1] == "not available"
