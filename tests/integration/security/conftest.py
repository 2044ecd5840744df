"""Fixtures of the broker security tests: a private broker configured like the stack's."""

from __future__ import annotations

from tests.fixtures.private_stack import private_mosquitto
from tests.integration.gateway.conftest import prefix

__all__ = ["prefix", "private_mosquitto"]
