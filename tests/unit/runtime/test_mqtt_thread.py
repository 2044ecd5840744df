"""ReportingClient: paho's network thread reports an exception or an end nobody asked for."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from runtime.mqtt_thread import ReportingClient


def _client(
    loop_forever: Callable[..., object],
) -> tuple[ReportingClient, list[BaseException | None]]:
    # No broker: paho's loop is replaced by the behaviour under test, and the thread body
    # (_thread_main, what loop_start runs) is called directly.
    client = ReportingClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.loop_forever = loop_forever  # type: ignore[method-assign,assignment]
    reports: list[BaseException | None] = []
    client.on_thread_exit = reports.append
    return client, reports


def test_exception_is_reported_instead_of_lost() -> None:
    boom = ValueError("callback bug")

    def raises(**_kw: object) -> None:
        raise boom

    client, reports = _client(raises)
    client._thread_main()
    assert reports == [boom]


def test_end_nobody_asked_for_is_reported() -> None:
    client, reports = _client(lambda **_kw: None)
    client._thread_main()
    assert reports == [None]


def test_end_after_disconnect_or_loop_stop_is_not_reported() -> None:
    client, reports = _client(lambda **_kw: None)
    client.disconnect()  # not connected: paho refuses, but the end is now asked for
    client._thread_main()
    client.loop_stop()
    client._thread_main()
    assert reports == []


def test_without_a_reporter_the_exception_propagates() -> None:
    def raises(**_kw: object) -> None:
        raise KeyError

    client, _ = _client(raises)
    client.on_thread_exit = None
    with pytest.raises(KeyError):
        client._thread_main()
