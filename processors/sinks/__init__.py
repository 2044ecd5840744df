"""Sinks: the contract (base), SQLSTATE classification, and the PostgreSQL/TimescaleDB sink."""

from __future__ import annotations

from processors.sinks.base import FlushResult, Sink, SinkInput
from processors.sinks.sqlstate import classify
from processors.sinks.timescale import TimescaleSink

__all__ = ["FlushResult", "Sink", "SinkInput", "TimescaleSink", "classify"]
