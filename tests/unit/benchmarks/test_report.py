"""Table formatting and headline rows of the benchmark report."""

from __future__ import annotations

import pytest

from benchmarks.report import (
    CPU_HEADERS,
    cpu_rows,
    fmt_num,
    format_table,
    gateway_ingest_result,
    headline_rows,
)


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
        "stages": {
            "gateway": {"available": True, "msg_per_s": 5000.0, "publisher_msg_per_s": 5500.0},
            "sink": {"available": False},
        },
        "e2e": {},
    }
    rows = {r[0]: r for r in headline_rows(results)}
    fleet = rows["stage: gateway under the fleet publisher"]
    assert fleet[1] == "5,000 msg/s"
    assert fleet[2] == "publisher 5,500 msg/s"
    assert fleet[5] == ""  # publisher-bound: no verdict
    assert rows["stage: gateway ingest QoS 1 (drain)"][1] == "not available"
    assert rows["stage: gateway ingest QoS 1 (drain)"][5] == "n/a"
    assert rows["stage: sink"][1] == "not available"
    assert rows["e2e saturation (sustained)"][1] == "not available"
    assert rows["overload RSS"][1] == "not available"


def _with_drain_output(output: str) -> dict[str, object]:
    return {"micro": {"gateway_ingest": {"available": True, "output": output}}}


def test_gateway_verdict_comes_from_the_drain_benchmark_result_line() -> None:
    output = (
        "median: C 50,000 msg/s, gateway 21,000 msg/s, ratio 42%\n"
        'result: {"c_msg_per_s": 50000.0, "gateway_msg_per_s": 21000.0, "ratio": 0.42}\n'
    )
    results = _with_drain_output(output)
    assert gateway_ingest_result(results) == {
        "c_msg_per_s": 50000.0,
        "gateway_msg_per_s": 21000.0,
        "ratio": 0.42,
    }
    row = {r[0]: r for r in headline_rows(results)}["stage: gateway ingest QoS 1 (drain)"]
    assert row[1:] == ["21,000 msg/s", "C client 50,000 msg/s", "42.0%", ">= 40% of C", "met"]
    slow = output.replace("21000.0", "15000.0")
    row = {r[0]: r for r in headline_rows(_with_drain_output(slow))}[
        "stage: gateway ingest QoS 1 (drain)"
    ]
    assert row[3:] == ["30.0%", ">= 40% of C", "NOT met"]


@pytest.mark.parametrize("output", ["no figures here", "result: {not json", "result: [1, 2]"])
def test_gateway_drain_result_absent_or_garbled_is_none(output: str) -> None:
    assert gateway_ingest_result(_with_drain_output(output)) is None


def test_drain_row_names_n_and_the_c_clients_start_up() -> None:
    output = (
        'result: {"messages": 100000, "rounds": 3, "c_startup_s": 0.41, "c_msg_per_s": 100000.0,'
        ' "gateway_msg_per_s": 45000.0, "ratio": 0.45}\n'
    )
    rows = {r[0]: r for r in headline_rows(_with_drain_output(output))}
    row = rows["stage: gateway ingest QoS 1 (drain N=100,000)"]
    assert row[2] == "C client 100,000 msg/s (its start-up 0.41 s not counted)"
    assert row[3:] == ["45.0%", ">= 40% of C", "met"]


def test_e2e_verdict_is_the_share_of_the_c_client_limit_and_names_the_publisher() -> None:
    sat = {"msg_per_s": 1500.0, "rows_per_s": 2700.0, "preloaded": True, "publisher_msg_per_s": 2900.0,
           "oracle": {"checked": True, "lost": 0, "duplicated": 0}}
    results = {"limits": {"mqtt_qos1": {"msg_per_s": 10000.0}}, "e2e": {"saturation": sat}}
    rows = {r[0]: r for r in headline_rows(results)}
    row = rows["e2e saturation (sustained) (pre-loaded backlog)"]
    assert row[2:] == ["C QoS 1 10,000 msg/s", "15.0%", ">= 20% of C QoS 1, 0 lost", "NOT met"]
    assert rows["e2e publisher (fills the backlog)"][1] == "2,900 msg/s"
    sat["msg_per_s"] = 2500.0
    rows = {r[0]: r for r in headline_rows(results)}
    assert rows["e2e saturation (sustained) (pre-loaded backlog)"][3:] == [
        "25.0%", ">= 20% of C QoS 1, 0 lost", "met"]


def test_cpu_rows_judge_the_sink_per_row_and_leave_other_processes_unjudged() -> None:
    cpu = [
        {"process": "gateway", "cpu_s": 0.5, "cpu_ms_per_message": 0.025, "cores_busy": 0.1},
        {"process": "normalize", "cpu_s": 6.0, "cpu_ms_per_message": 0.3, "cores_busy": 0.9},
        {"process": "sink", "cpu_s": 1.2, "cpu_ms_per_message": 0.06, "cores_busy": 0.2},
        {"process": "infrastructure (all)", "cpu_s": 2.0, "cpu_ms_per_message": 0.1, "cores_busy": 0.4},
    ]
    results = {"e2e": {"saturation": {"rows": 40000, "cpu": cpu}}}
    rows = {r[0]: r for r in cpu_rows(results)}
    assert len(CPU_HEADERS) == len(rows["gateway"])
    assert rows["gateway"][3:] == ["<= 0.03 ms", "met"]
    assert rows["normalize"][3:] == ["<= 0.06 ms", "NOT met"]
    assert rows["sink"][1] == "0.060 ms (0.030 ms per row)"  # 1.2 s over 40,000 rows
    assert rows["sink"][3:] == ["<= 0.04 ms per row", "met"]
    assert rows["infrastructure (all)"][3:] == ["", ""]
