"""Fixtures of the chaos tests: private brokers (the shared stack is never stopped)."""

from __future__ import annotations

from tests.fixtures.private_stack import private_kafka, private_mosquitto

__all__ = ["private_kafka", "private_mosquitto"]
