"""Benchmarks: ``python -m benchmarks`` (the harness) and per-stage scripts; see docs/benchmarks.md."""
