"""Fixtures of the gateway integration tests: private brokers for the fault tests."""

from __future__ import annotations

from tests.fixtures.private_stack import private_kafka, private_mosquitto

__all__ = ["private_kafka", "private_mosquitto"]
