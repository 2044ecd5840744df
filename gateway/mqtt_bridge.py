"""paho-mqtt 2.x (MQTT v5, manual ack) bridged into asyncio.

Thread model: paho's network loop runs in its own thread (``loop_start``). Its callbacks touch the
event loop only through ``loop.call_soon_threadsafe``: messages go into a locked inbox that the loop
takes in batches (``take``; one wake-up per burst), connection changes to a callback. When the
pipeline holds ``queue_capacity`` messages the paho thread waits for a free slot instead of
dropping, so it stops reading and TCP pushes back (needed: Mosquitto 2.0 exceeds the Receive
Maximum while PUBACKs flow, docs/gateway.md); while it waits it still writes queued PUBACKs and
sends PINGREQs (``BufferedClient.keep_alive``), so a long Kafka outage does not cost the
connection. The client is
``BufferedClient`` (buffered reads, a lean PUBLISH decoder, PUBACKs of one batch in one write).
Acks come back from the loop through ``ack_many()``, which only sends a PUBACK on the connection
the message arrived on: packet ids are per connection, and a message of a dead connection is
redelivered by the broker instead (docs/reliability.md W3). An end of paho's thread other than
``stop()`` is reported through ``on_thread_exit`` (the gateway's supervisor fails the service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from contracts.settings import MqttConfig
from gateway.config import GatewayConfig
from gateway.paho_client import BufferedClient, PublishFields
from runtime.mqtt_auth import configure_client

__all__ = ["ConnectionEvent", "Inbound", "MqttBridge"]

logger = logging.getLogger(__name__)

_SLOT_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class Inbound:
    """One PUBLISH as received, converted from paho's message at the thread boundary."""

    generation: int
    mid: int
    qos: int
    retain: bool
    dup: bool
    topic: str
    topic_valid: bool
    payload: bytes
    user_properties: tuple[tuple[str, str], ...]
    received_ns: int


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A connection came up (``connected``) or went down."""

    generation: int
    connected: bool
    session_present: bool
    reason: str


class MqttBridge:
    """Owns one paho client; start/stop from the event loop, callbacks run on paho's thread."""

    def __init__(
        self,
        mqtt_config: MqttConfig,
        config: GatewayConfig,
        loop: asyncio.AbstractEventLoop,
        on_event: Callable[[ConnectionEvent], None],
        *,
        on_thread_exit: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self._mqtt = mqtt_config
        self._on_thread_exit = on_thread_exit  # told when paho's thread ends other than by stop()
        self._cfg = config
        self._loop = loop
        self._on_event = on_event
        self._slots = threading.Semaphore(config.queue_capacity)
        self._slots_to_release = 0
        # Hand-off buffer: the paho thread wakes the loop once per burst, not once per message.
        self._inbox: deque[Inbound] = deque()
        self._inbox_lock = threading.Lock()
        self._wake_pending = False
        self._has_items = asyncio.Event()
        self._lock = threading.Lock()  # guards generation/connected against ack_many()
        self._generation = 0
        self._connected = False
        self._subscribed = False
        self._paused = False
        self._closing = False
        self._started = False
        self.keepalive_pings = 0  # PINGREQs sent while the pipeline was full (paho thread held)
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        """True while a connection is up and its subscriptions were granted."""
        return self._connected and self._subscribed

    def _make_client(self) -> BufferedClient:
        client = BufferedClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._cfg.effective_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        client.reconnect_delay_set(self._cfg.reconnect_min_s, self._cfg.reconnect_max_s)
        configure_client(client, self._mqtt)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message  # paho's own path: not v5 QoS 0/1 (unused)
        client.on_publish_fields = self._handle_fields
        client.on_subscribe = self._handle_subscribe
        client.on_thread_exit = self._on_thread_exit
        return client

    def start(self) -> None:
        """Connect asynchronously and start paho's network thread (reconnects by itself)."""
        if self._started:
            return
        self._started = True
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._cfg.session_expiry_s
        props.ReceiveMaximum = self._cfg.max_in_flight
        self._client.connect_async(
            self._mqtt.host,
            self._mqtt.port,
            keepalive=self._mqtt.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def pause(self) -> None:
        """Stop handing messages to the loop; later ones stay unacked and are redelivered."""
        self._paused = True

    @property
    def queued(self) -> int:
        """Messages handed over by paho and not taken by the loop yet."""
        return len(self._inbox)

    async def take(self) -> list[Inbound]:
        """Wait for messages and take every one handed over so far, in receive order."""
        while True:
            with self._inbox_lock:
                if self._inbox:
                    items = list(self._inbox)
                    self._inbox.clear()
                    return items
                # Only now may the paho thread schedule a new wake-up.
                self._wake_pending = False
                self._has_items.clear()
            await self._has_items.wait()

    def drop_queued(self) -> int:
        """Forget messages not taken yet (left unacked for redelivery); returns how many."""
        with self._inbox_lock:
            count = len(self._inbox)
            self._inbox.clear()
        for _ in range(count):
            self.release_slot()
        return count

    def release_slot(self) -> None:
        """Give back the pipeline slot of one message (loop only; once per message taken)."""
        # Batched: one Semaphore.release(n) per loop iteration instead of one per message.
        if not self._slots_to_release:
            self._loop.call_soon(self._flush_slots)
        self._slots_to_release += 1

    def _flush_slots(self) -> None:
        count, self._slots_to_release = self._slots_to_release, 0
        if count:
            self._slots.release(count)

    def ack_many(self, acks: list[tuple[int, int, int]]) -> int:
        """Send PUBACKs in the given order, skipping those of other connections; returns sent."""
        with self._lock:
            if not self._connected:
                return 0
            live = self._generation
            mids = [mid for generation, mid, qos in acks if generation == live and qos == 1]
            # Queued under the lock: a reconnect cannot slip in between the check and the write.
            self._client.queue_pubacks(mids)
        return len(mids)

    def stop(self) -> None:
        """Disconnect cleanly (queued PUBACKs go out first) and join paho's thread; idempotent."""
        if self._closing:
            return
        self._closing = True
        self._paused = True
        if self._started:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._cfg.session_expiry_s
            self._client.disconnect(properties=props)
            self._client.loop_stop()

    # --- paho thread -------------------------------------------------------------------------

    def _post_event(self, event: ConnectionEvent) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._loop.call_soon_threadsafe(self._on_event, event)

    def _handle_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            logger.warning("MQTT connect refused: %s", reason)
            return
        with self._lock:
            self._generation += 1
            self._connected = True
            self._subscribed = False
            generation = self._generation
        session_present = bool(flags.session_present)
        logger.info(
            "MQTT connected to %s:%s as %s (session_present=%s, generation=%d)",
            self._mqtt.host,
            self._mqtt.port,
            self._cfg.effective_client_id,
            session_present,
            generation,
        )
        # Retain handling 1: retained messages only for a subscription that did not exist yet.
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(s, opts) for s in self._cfg.effective_subscriptions])
        self._post_event(ConnectionEvent(generation, True, session_present, str(reason)))

    def _handle_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            logger.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        self._subscribed = True

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
            self._subscribed = False
            generation = self._generation
        if was:
            log = logger.info if self._closing else logger.warning
            log("MQTT disconnected (generation=%d): %s", generation, reason)
            self._post_event(ConnectionEvent(generation, False, False, str(reason)))

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg.properties, "UserProperty", None) or ()
        fields = PublishFields(
            topic=bytes(msg._topic),  # noqa: SLF001 - the topic bytes, decodable or not
            payload=bytes(msg.payload),
            mid=msg.mid,
            qos=msg.qos,
            retain=bool(msg.retain),
            dup=bool(msg.dup),
            user_properties=tuple((str(k), str(v)) for k, v in props),
        )
        self._handle_fields(fields)

    def _handle_fields(self, fields: PublishFields) -> None:
        received_ns = time.time_ns()
        if self._paused:
            return  # not acked: the broker keeps it in the session and redelivers it
        while not self._slots.acquire(timeout=_SLOT_POLL_S):
            if self._paused:
                return
            # Held here, paho's loop sends no PINGREQ: keep the connection alive from this thread.
            if self._client.keep_alive():
                self.keepalive_pings += 1
        try:
            topic = fields.topic.decode()
            topic_valid = True
        except UnicodeDecodeError:
            # Keep a printable form for the dead letter.
            topic = fields.topic.decode("utf-8", "backslashreplace")
            topic_valid = False
        inbound = Inbound(
            generation=self._generation,
            mid=fields.mid,
            qos=fields.qos,
            retain=fields.retain,
            dup=fields.dup,
            topic=topic,
            topic_valid=topic_valid,
            payload=fields.payload,
            user_properties=fields.user_properties,
            received_ns=received_ns,
        )
        with self._inbox_lock:
            self._inbox.append(inbound)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._has_items.set)
            except RuntimeError:  # loop closed during shutdown: the message stays unacked
                self._slots.release()
