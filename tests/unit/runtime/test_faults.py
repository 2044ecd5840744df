"""Test-only fault points are off unless SENSEGATE_TEST_FAULTS names them, and say so when armed."""

from __future__ import annotations

import logging

import pytest

from runtime.exceptions import InjectedFault
from runtime.faults import FAULTS_ENV, fault_point


def test_disarmed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULTS_ENV, raising=False)
    assert fault_point("gateway.dispatch") is None
    monkeypatch.setenv(FAULTS_ENV, "sink.flush")
    assert fault_point("gateway.dispatch") is None


def test_armed_point_raises_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(FAULTS_ENV, "sink.flush, gateway.dispatch")
    with caplog.at_level(logging.WARNING, logger="runtime.faults"):
        fire = fault_point("gateway.dispatch")
    assert fire is not None
    assert "TEST FAULT INJECTION ARMED: gateway.dispatch" in caplog.text
    with pytest.raises(InjectedFault, match=r"gateway\.dispatch"):
        fire()
