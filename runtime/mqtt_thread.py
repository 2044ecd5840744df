"""A paho-mqtt client whose network thread reports an unexpected end, so a service can supervise it.

paho runs its network loop on a thread of its own (``loop_start``); an exception from a callback
ends that thread, and nothing on the event loop notices: the service keeps waiting for messages
that no longer come. ``ReportingClient`` calls ``on_thread_exit`` when the thread ends with an
exception, or returns without ``disconnect()``/``loop_stop()`` having asked it to (a service hands
it ``Supervisor.thread_reporter``, runtime.supervise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["ReportingClient"]


class ReportingClient(mqtt.Client):
    """paho ``Client`` that reports an unexpected end of its network thread to ``on_thread_exit``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Called on paho's thread as it ends unexpectedly: with its exception, or None.
        self.on_thread_exit: Callable[[BaseException | None], None] | None = None
        self._end_requested = False

    def loop_start(self) -> MQTTErrorCode:
        """Start paho's network thread (a new thread is expected to run until asked to end)."""
        self._end_requested = False
        result: MQTTErrorCode = super().loop_start()
        return result

    def disconnect(
        self, reasoncode: ReasonCode | None = None, properties: Properties | None = None
    ) -> MQTTErrorCode:
        """Disconnect; the network thread then ends as asked."""
        self._end_requested = True
        result: MQTTErrorCode = super().disconnect(reasoncode, properties)
        return result

    def loop_stop(self) -> MQTTErrorCode:
        """Stop the network thread as asked."""
        self._end_requested = True
        result: MQTTErrorCode = super().loop_stop()
        return result

    def _thread_main(self) -> None:
        report = self.on_thread_exit
        try:
            super()._thread_main()
        except BaseException as exc:
            if report is None:
                raise
            report(exc)  # the reporter logs it with its traceback
            return
        if report is not None and not self._end_requested:
            report(None)
