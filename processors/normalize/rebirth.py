"""Publishes Sparkplug rebirth requests (NCMD ``Node Control/Rebirth``) to the MQTT broker.

paho runs its network loop on its own thread; publishing is thread-safe in paho, and the wait for
the PUBACK runs in a worker thread so the event loop never blocks. Requests for the same edge node
are throttled (one per ``min_interval_s``) so a burst of out-of-sequence messages sends one command.
Failures are logged, never raised: a lost request is repeated at the node's next gap. An end of
paho's thread other than ``stop()`` is reported to ``on_thread_exit`` (the service's supervisor).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.settings import MqttConfig
from processors.normalize.contract import RebirthRequest
from runtime.mqtt_auth import configure_client
from runtime.mqtt_thread import ReportingClient

__all__ = ["MqttRebirthPublisher"]

logger = logging.getLogger(__name__)


class MqttRebirthPublisher:
    """Async callable that publishes rebirth commands with QoS 1; ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        min_interval_s: float = 10.0,
        publish_timeout_s: float = 5.0,
        on_thread_exit: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self._config = config
        # Told when paho's thread ends other than by stop(): requests would stop going out unseen.
        self._on_thread_exit = on_thread_exit
        self._client_id = client_id
        self._min_interval_s = min_interval_s
        self._timeout_s = publish_timeout_s
        self._last: dict[tuple[str, str], float] = {}
        self._client: mqtt.Client | None = None
        self.sent = 0

    async def start(self) -> None:
        """Connect in the background (paho reconnects by itself)."""
        if self._client is not None:
            return
        client = ReportingClient(
            CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv5
        )
        client.on_thread_exit = self._on_thread_exit
        configure_client(client, self._config)
        client.connect_async(self._config.host, self._config.port, self._config.keepalive_s)
        client.loop_start()
        self._client = client

    async def stop(self) -> None:
        """Disconnect and stop paho's thread."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    async def __call__(self, requests: Sequence[RebirthRequest]) -> None:
        """Publish each request unless the same node was asked within ``min_interval_s``."""
        client = self._client
        if client is None:
            logger.warning("rebirth publisher not started; %d request(s) dropped", len(requests))
            return
        now = time.monotonic()
        for req in requests:
            node = (req.group, req.edge_node)
            if now - self._last.get(node, -1e18) < self._min_interval_s:
                continue
            self._last[node] = now
            info = client.publish(req.topic, req.payload, qos=1)
            try:
                await asyncio.to_thread(info.wait_for_publish, self._timeout_s)
            except (RuntimeError, ValueError) as exc:
                logger.warning("rebirth for %s/%s not published: %s", *node, exc)
                continue
            if info.is_published():
                self.sent += 1
                logger.info("rebirth requested from %s/%s (%s)", req.group, req.edge_node, req.reason)
            else:
                logger.warning("rebirth for %s/%s not acknowledged in time", *node)
