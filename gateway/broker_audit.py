"""Count the broker's refusals from its own log lines, published on ``$SYS/broker/log/<level>``.

Mosquitto 2.0 keeps no counter of refused clients, so the stack's broker also logs to topics
(``log_dest topic``) and this small client of the gateway classifies each line. What the broker
logs at its default levels (error, warning, notice): refused CONNECTs (wrong or unknown
credential, anonymous), failed TLS handshakes (untrusted or revoked certificate) and sessions
ended by the registry (revoke). A PUBLISH outside a client's ACL is logged by Mosquitto 2.0.11
only at debug level ("Denied PUBLISH"), and debug lines never go to the log topics: those are
counted only when the broker runs with ``log_type debug`` and this gateway reads the broker's log
file instead (``broker_log_file``, same host; docs/operations.md, "Security"). The paho thread
and the file reader only increment Prometheus counters (thread-safe); nothing reaches the loop
but an unexpected end of either thread, through ``on_thread_exit`` (the gateway's supervisor).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import Counter

from contracts.settings import MqttConfig
from runtime.mqtt_auth import configure_client
from runtime.mqtt_thread import ReportingClient

__all__ = ["LOG_TOPIC", "BrokerAudit", "LogFileAudit", "classify"]

logger = logging.getLogger(__name__)

LOG_TOPIC = "$SYS/broker/log/#"
# (substring of a Mosquitto 2.0 log line, reason label)
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("disconnected, not authorised", "connect_not_authorized"),
    ("certificate verify failed", "tls_refused"),
    ("been disconnected by administrative action", "kicked"),
    ("Denied PUBLISH", "publish_not_authorized"),
)


def classify(line: str) -> str | None:
    """The refusal a broker log line reports, or None."""
    for needle, reason in _PATTERNS:
        if needle in line:
            return reason
    return None


class LogFileAudit:
    """Follows the broker's log file from its current end, feeding ``counter``."""

    def __init__(
        self,
        path: Path,
        counter: Counter,
        poll_s: float = 0.5,
        on_thread_exit: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self._path = path
        self._counter = counter
        self._poll_s = poll_s
        self._on_thread_exit = on_thread_exit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="broker-log-audit", daemon=True)

    def start(self) -> None:
        """Start following (lines written before this call are not counted)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following and join the reader thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _main(self) -> None:
        # The reader ends only when stop() asks; any other end is reported (if anyone listens).
        report = self._on_thread_exit
        try:
            self._run()
        except BaseException as exc:
            if report is None:
                raise
            report(exc)
            return
        if report is not None and not self._stop.is_set():
            report(None)

    def _run(self) -> None:
        offset = self._path.stat().st_size if self._path.exists() else 0
        pending = b""
        while not self._stop.wait(self._poll_s):
            try:
                with self._path.open("rb") as fh:
                    if fh.seek(0, 2) < offset:
                        offset = 0  # rotated or truncated: start over
                    fh.seek(offset)
                    chunk = fh.read()
            except OSError:
                continue
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                reason = classify(line.decode("utf-8", "replace"))
                if reason is not None:
                    self._counter.labels(reason).inc()


class BrokerAudit:
    """A QoS 0 subscriber of the broker's log topics feeding ``counter`` (label ``reason``)."""

    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        counter: Counter,
        on_thread_exit: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self._counter = counter
        self._client = ReportingClient(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.on_thread_exit = on_thread_exit  # an unexpected end of paho's thread
        configure_client(self._client, config)
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._config = config
        self._started = False

    def start(self) -> None:
        """Connect in the background (paho reconnects by itself)."""
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive_s)
        self._client.loop_start()
        self._started = True

    def stop(self) -> None:
        """Disconnect and join paho's thread; idempotent."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("broker audit client refused: %s", reason)
            return
        client.subscribe(LOG_TOPIC, qos=0)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        reason = classify(message.payload.decode("utf-8", "replace"))
        if reason is not None:
            self._counter.labels(reason).inc()
