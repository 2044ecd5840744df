"""Pure helpers of the benchmark harness: percentiles, rates, slope verdicts, bottleneck choice."""

from __future__ import annotations

import pytest

from benchmarks.infra import infra_rows
from benchmarks.stats import (
    first_backlogged,
    first_saturated,
    linear_slope,
    percentile,
    ratio,
    rss_verdict,
    slowest_stage,
    steady_rate,
    window_rates,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 99) == pytest.approx(39.7)


def test_percentile_ignores_input_order_and_handles_single_and_empty() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range_q() -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 101)


def test_linear_slope_of_a_line_and_degenerate_input() -> None:
    assert linear_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert linear_slope([1], [5]) == 0.0
    assert linear_slope([2, 2, 2], [1, 5, 9]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        linear_slope([1, 2], [1])


def test_rss_flat_when_only_the_warm_up_grows() -> None:
    times = [float(t) for t in range(20)]
    # grows during the first half, then stays level
    rss = [100e6 + min(t, 9) * 5e6 for t in range(20)]
    verdict = rss_verdict(times, rss)
    assert verdict.flat
    assert verdict.samples == 10
    assert verdict.growth_fraction == pytest.approx(0.0, abs=1e-9)


def test_rss_not_flat_when_the_last_half_keeps_climbing() -> None:
    times = [float(t) for t in range(20)]
    rss = [100e6 + t * 2e6 for t in range(20)]
    verdict = rss_verdict(times, rss)
    assert not verdict.flat
    assert verdict.slope_bytes_per_s == pytest.approx(2e6)
    assert verdict.growth_fraction > 0.05


def test_rss_verdict_needs_enough_samples() -> None:
    verdict = rss_verdict([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    assert not verdict.flat
    assert verdict.samples == 2


def test_window_rates_between_samples() -> None:
    assert window_rates([0.0, 1.0, 3.0], [0, 100, 300]) == [(0.5, 100.0), (2.0, 100.0)]


def test_steady_rate_ignores_idle_time_around_the_run() -> None:
    times = [float(t) for t in range(12)]
    # idle for 2 s, 100/s for 8 s, idle again
    counts = [0, 0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 800]
    assert steady_rate(times, counts) == pytest.approx(100.0)
    assert steady_rate(times, [5] * 12) == 0.0


def test_ratio_and_missing_values() -> None:
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(None, 200.0) is None
    assert ratio(1.0, 0.0) is None


def test_first_saturated_is_the_slowest_known_stage() -> None:
    stages = [("gateway", 900.0), ("normalize", 400.0), ("sink", None)]
    assert first_saturated(stages) == "normalize"
    assert first_saturated([("sink", None)]) is None


def test_first_backlogged_follows_pipeline_order() -> None:
    backlogs = [("gateway", 0.0, 1000.0), ("normalize", 600.0, 1000.0), ("sink", 900.0, 2000.0)]
    assert first_backlogged(backlogs) == "normalize"
    assert first_backlogged([("gateway", 10.0, 1000.0)]) is None


def test_slowest_stage_compares_the_sink_in_messages_per_second() -> None:
    steady = {"gateway_msg_per_s": 9000.0, "normalize_msg_per_s": 1500.0, "sink_rows_per_s": 2000.0}
    assert slowest_stage(steady, 1.2) == "normalize"  # sink: 2,000 rows/s = 1,667 msg/s
    assert slowest_stage(steady, 2.0) == "sink"  # 2,000 rows/s at 2 rows per message = 1,000 msg/s
    assert slowest_stage({"gateway_msg_per_s": 0.0, "normalize_msg_per_s": 0.0, "sink_rows_per_s": 0.0}, 1.0) == "n/a"


def test_infra_rows_per_process_and_in_total() -> None:
    rows = infra_rows({"kafka": 10.0, "mosquitto": 1.0}, {"kafka": 12.0, "mosquitto": 1.5}, 10.0, 1000)
    by = {r["process"]: r for r in rows}
    assert by["infrastructure: kafka"]["cpu_ms_per_message"] == 2.0
    assert by["infrastructure: mosquitto"]["cores_busy"] == 0.05
    assert by["infrastructure (all)"]["cpu_s"] == 2.5
    assert infra_rows({}, {}, 1.0, 10) == []
