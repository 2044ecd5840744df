"""The broker-log reader thread reports an unexpected end to the gateway's supervisor."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from gateway.broker_audit import LogFileAudit


def _counter() -> Counter:
    return Counter("refusals", "test", ["reason"], registry=CollectorRegistry())


def test_reader_that_dies_reports_its_exception(tmp_path: Path) -> None:
    reports: list[BaseException | None] = []
    audit = LogFileAudit(tmp_path / "broker.log", _counter(), on_thread_exit=reports.append)
    boom = OSError("reader bug")

    def dies() -> None:
        raise boom

    audit._run = dies  # type: ignore[method-assign]
    audit.start()
    audit._thread.join(5)
    assert reports == [boom]


def test_reader_stopped_as_asked_reports_nothing(tmp_path: Path) -> None:
    reports: list[BaseException | None] = []
    audit = LogFileAudit(
        tmp_path / "broker.log", _counter(), poll_s=0.01, on_thread_exit=reports.append
    )
    audit.start()
    audit.stop()
    assert not audit._thread.is_alive()
    assert reports == []
