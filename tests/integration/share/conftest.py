"""Fixtures of the sharing tests: the private secure broker (see tests/fixtures/secure_kafka.py)."""

from __future__ import annotations

from tests.fixtures.secure_kafka import secure_kafka

__all__ = ["secure_kafka"]
