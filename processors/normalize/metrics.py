"""Prometheus metrics of the normalize stage (served when the metrics port is set)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from processors.normalize.contract import BatchResult

__all__ = ["observe_batch"]

_INPUTS = Counter("sensegate_normalize_inputs_total", "raw records processed")
_RECORDS = Counter("sensegate_normalize_records_total", "dataset records produced", ["dataset"])
_DEAD = Counter("sensegate_normalize_dead_letters_total", "dead letters produced", ["reason"])
_QUARANTINED = Counter("sensegate_normalize_quarantined_total", "raw records quarantined")
_DUPLICATES = Counter("sensegate_normalize_duplicates_total", "records dropped as recent duplicates")
_BATCH_SECONDS = Histogram(
    "sensegate_normalize_batch_seconds",
    "time from poll result to committed offsets, per batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_batch(result: BatchResult, envelope_errors: int, seconds: float) -> None:
    """Count one delivered and committed batch."""
    _INPUTS.inc(result.inputs + envelope_errors)
    for record in result.records:
        _RECORDS.labels(record.dataset).inc()
    for letter in result.dead_letters:
        _DEAD.labels(letter.reason.value).inc()
    if envelope_errors:
        _DEAD.labels("envelope_invalid").inc(envelope_errors)
    _QUARANTINED.inc(len(result.quarantined))
    _DUPLICATES.inc(result.duplicates)
    _BATCH_SECONDS.observe(seconds)
