"""MQTT side of a run: one paho client per connection name, PUBACK tracking, Wills and NCMD.

paho runs its network loop on its own thread; every callback hands its event to the asyncio loop
with ``call_soon_threadsafe`` and touches nothing else. Acknowledgements are keyed by
(connection, packet id). Clients use MQTT v5 with a persistent session (``clean_start`` false on
reconnect) so paho resends unacknowledged QoS 1 messages after a disconnect fault.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from simulators.credentials import Login
from simulators.exceptions import BrokerError
from simulators.model import Will

__all__ = ["MqttPublisher"]

logger = logging.getLogger(__name__)


@dataclass
class _Conn:
    client: mqtt.Client
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    rc: int = 0


class MqttPublisher:
    """Publishes on named connections; loop-affine (create and use on one event loop)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_prefix: str,
        on_ack: Callable[[str, int, int], None],
        *,
        on_command: Callable[[str, str, bytes], None] | None = None,
        connect_timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
        max_inflight: int = 200,
        tls_ca: Path | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._prefix = client_prefix
        self._on_ack = on_ack
        self._on_command = on_command
        self._timeout = connect_timeout_s
        self._username = username
        self._password = password
        self._max_inflight = max_inflight
        self._tls_ca = tls_ca
        self._conns: dict[str, _Conn] = {}
        self._loop = asyncio.get_running_loop()

    def _client_id(self, name: str) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        return f"{self._prefix}-{safe}"[:120]

    async def open(
        self, name: str, will: Will | None = None, subscribe: str = "", login: Login | None = None
    ) -> None:
        """Connect (or reconnect) ``name`` with ``will`` (as ``login``); waits for CONNACK."""
        old = self._conns.get(name)
        client = old.client if old is not None else self._new_client(name, login)
        if will is not None:
            client.will_clear()
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        conn = _Conn(client)
        self._conns[name] = conn

        def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            self._loop.call_soon_threadsafe(self._connected, name, int(rc.value))

        client.on_connect = on_connect
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        try:
            if old is None:
                client.connect_async(
                    self._host, self._port, keepalive=30, clean_start=old is None, properties=props
                )
                client.loop_start()
            else:
                # after our own disconnect paho's network thread has ended: restart it
                await asyncio.to_thread(client.loop_stop)
                await asyncio.to_thread(client.reconnect)
                # loop_start opens a fresh wake-up socket pair without closing the previous one
                client._reset_sockets(sockpair_only=True)  # noqa: SLF001
                client.loop_start()
        except OSError as exc:
            msg = f"cannot reach MQTT broker {self._host}:{self._port}: {exc}"
            raise BrokerError(msg) from exc
        try:
            await asyncio.wait_for(conn.connected.wait(), self._timeout)
        except TimeoutError as exc:
            msg = f"no CONNACK from {self._host}:{self._port} within {self._timeout} s for {name}"
            raise BrokerError(msg) from exc
        if conn.rc != 0:
            msg = f"broker refused connection {name}: reason code {conn.rc}"
            raise BrokerError(msg)
        if subscribe:
            client.subscribe(subscribe, qos=1)

    def _new_client(self, name: str, login: Login | None) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id(name),
            protocol=mqtt.MQTTv5,
        )
        client.max_inflight_messages_set(self._max_inflight)
        client.max_queued_messages_set(0)
        if login is not None:
            client.username_pw_set(login.username, login.password)
        elif self._username:
            client.username_pw_set(self._username, self._password)
        if self._tls_ca is not None:
            client.tls_set(ca_certs=str(self._tls_ca))

        def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
            self._loop.call_soon_threadsafe(self._on_ack, name, mid, int(rc.value))

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            if self._on_command is not None:
                self._loop.call_soon_threadsafe(
                    self._on_command, name, message.topic, bytes(message.payload)
                )

        client.on_publish = on_publish
        client.on_message = on_message
        return client

    def _connected(self, name: str, rc: int) -> None:
        conn = self._conns.get(name)
        if conn is not None:
            conn.rc = rc
            conn.connected.set()

    def publish(
        self,
        name: str,
        topic: str,
        payload: bytes,
        qos: int,
        *,
        retain: bool = False,
        message_id: str = "",
    ) -> int:
        """Queue a publish on connection ``name``; returns the packet id for ack matching."""
        conn = self._conns[name]
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = ("sg-sim-id", message_id)
        info = conn.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            msg = f"publish on {name} failed: {mqtt.error_string(info.rc)}"
            raise BrokerError(msg)
        return int(info.mid)

    def names(self, prefix: str) -> list[str]:
        """Opened connections whose name starts with ``prefix``."""
        return [n for n in self._conns if n.startswith(prefix)]

    def has(self, name: str) -> bool:
        """True when ``name`` has been opened."""
        return name in self._conns

    def drop(self, name: str) -> None:
        """Disconnect ``name`` abruptly: the broker publishes its Will (MQTT v5 reason 0x04)."""
        conn = self._conns.get(name)
        if conn is None:
            return
        reason = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
        conn.client.disconnect(reasoncode=reason)

    async def close(self) -> None:
        """Disconnect every client cleanly (no Will) and stop their threads; idempotent."""
        for conn in self._conns.values():
            conn.client.disconnect()
        for conn in self._conns.values():
            await asyncio.to_thread(conn.client.loop_stop)
        self._conns.clear()
