"""Test-only fault injection: named code points that raise when ``SENSEGATE_TEST_FAULTS`` names them.

Off by default: the variable is not a setting of any service, ``make up`` never sets it, and a
process that finds a point armed logs a warning at start-up. It exists so that an integration test
can kill one task of a real service process (e.g. the gateway's dispatcher) and check that the
supervisor turns that into a logged error and a non-zero exit (docs/operations.md, "Supervised
tasks"). Bad input cannot serve for that: every bad input is dead-lettered by design, never fatal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from runtime.exceptions import InjectedFault

__all__ = ["FAULTS_ENV", "fault_point"]

logger = logging.getLogger(__name__)

FAULTS_ENV = "SENSEGATE_TEST_FAULTS"
"""Comma-separated names of the fault points to arm, e.g. ``gateway.dispatch``."""


def fault_point(name: str) -> Callable[[], None] | None:
    """A callable that raises InjectedFault when ``name`` is armed, else None.

    Resolved once at start-up, so a disarmed point costs one ``is None`` test where it is used.
    """
    armed = {part.strip() for part in os.environ.get(FAULTS_ENV, "").split(",")}
    if name not in armed:
        return None
    logger.warning("TEST FAULT INJECTION ARMED: %s will raise (%s; tests only)", name, FAULTS_ENV)

    def fire() -> None:
        msg = f"injected fault at {name} ({FAULTS_ENV})"
        raise InjectedFault(msg)

    return fire
