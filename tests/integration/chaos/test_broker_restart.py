"""What a graceful Mosquitto restart keeps of a persistent session (the broker's own behaviour).

Mosquitto 2.0.11 restores a persistent session's non-shared subscriptions and its unacknowledged
messages from the persistence file, but not its ``$share/...`` subscriptions: until the subscriber
subscribes again, a QoS 1 PUBLISH matching only the shared subscription is answered with PUBACK
0x10 "No matching subscribers" and dropped. This is why two gateways must not rely on a shared
subscription across a broker restart (docs/reliability.md, "Broker restart and shared
subscriptions"). If a newer broker restores shared subscriptions, the first test fails: then the
documentation must change.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from simulators import FleetConfig, RunOptions, run_fleet_async
from tests.fixtures.mqtt_auth import MqttLogin
from tests.fixtures.private_stack import PrivateMosquitto

pytestmark = [pytest.mark.fault, pytest.mark.slow]

SUCCESS, NO_MATCHING_SUBSCRIBERS = 0x00, 0x10
WAIT_S = 10.0


class Subscriber:
    """A persistent-session MQTT v5 subscriber that acks only when told to (like the gateway)."""

    def __init__(self, login: MqttLogin, client_id: str, topic_filter: str) -> None:
        self.login, self.client_id, self.topic_filter = login, client_id, topic_filter
        self.received: list[tuple[str, bool]] = []  # (payload, dup flag)
        self.ack = True
        self.session_present: bool | None = None
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def connect(self, *, subscribe: bool) -> None:
        """Connect with clean start off; subscribe only when asked (the session may hold it)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.login.apply(client)
        up, granted = threading.Event(), threading.Event()

        def on_connect(_c: mqtt.Client, _u: object, flags: object, _rc: object, _p: object) -> None:
            self.session_present = bool(getattr(flags, "session_present", False))
            up.set()

        def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.received.append((msg.payload.decode(), bool(msg.dup)))
            if self.ack:
                c.ack(msg.mid, msg.qos)

        client.on_connect = on_connect
        client.on_message = on_message
        client.on_subscribe = lambda *_args: granted.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect(self.login.host, self.login.port, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        assert up.wait(WAIT_S), f"{self.client_id} did not connect"
        if subscribe:
            client.subscribe([(self.topic_filter, SubscribeOptions(qos=1))])
            assert granted.wait(WAIT_S), f"{self.client_id} got no SUBACK"

    def lose_connection(self) -> None:
        """Stop the network thread without DISCONNECT (the broker went away under it)."""
        if self._client is not None:
            self._client.loop_stop()
            self._client = None

    def take(self, expected: int) -> list[tuple[str, bool]]:
        """Wait until ``expected`` messages arrived (or a short grace for none), then take them."""
        deadline = time.monotonic() + (WAIT_S if expected else 1.5)
        while time.monotonic() < deadline:
            with self._lock:
                if expected and len(self.received) >= expected:
                    break
            time.sleep(0.05)
        time.sleep(0.3)  # anything beyond the expected count would show up here
        with self._lock:
            got, self.received = self.received, []
        return got


def publish(login: MqttLogin, topic: str, payloads: list[str]) -> dict[str, int]:
    """Publish QoS 1 and return each payload's PUBACK reason code."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    login.apply(client)
    # The callback records by packet id only: it runs on paho's thread while paho holds its own
    # outgoing-message lock, so it must not wait for anything the publishing thread holds.
    by_mid: dict[int, int] = {}
    lock = threading.Lock()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: object, _p: object) -> None:
        with lock:
            by_mid[mid] = int(getattr(rc, "value", -1))

    client.on_publish = on_publish
    client.connect(login.host, login.port)
    client.loop_start()
    try:
        mids = {client.publish(topic, payload, qos=1).mid: payload for payload in payloads}
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with lock:
                if all(mid in by_mid for mid in mids):
                    break
            time.sleep(0.05)
        with lock:
            codes = {payload: by_mid[mid] for mid, payload in mids.items() if mid in by_mid}
        assert len(codes) == len(payloads), f"PUBACKs missing: {codes}"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes


def _restart_with_unacked(
    broker: PrivateMosquitto, client_id: str, topic_filter: str, topic: str, tag: str
) -> tuple[MqttLogin, Subscriber]:
    """A subscriber holding two received, unacknowledged messages when the broker is restarted
    gracefully (SIGTERM writes the persistence file); returns the publisher login and it."""
    pub = broker.login("publisher")
    sub = Subscriber(broker.login("gateway"), client_id, topic_filter)
    sub.connect(subscribe=True)
    sub.ack = False  # in flight at SIGTERM: received, not acknowledged
    first = [f"{tag}0", f"{tag}1"]
    assert publish(pub, topic, first) == dict.fromkeys(first, SUCCESS)
    assert sorted(p for p, _ in sub.take(2)) == first
    broker.stop(signal.SIGTERM)
    sub.lose_connection()
    broker.start()
    sub.ack = True
    return pub, sub


def test_shared_subscription_is_not_restored_after_graceful_restart(
    private_mosquitto: Callable[..., PrivateMosquitto],
) -> None:
    """Session and unacked messages come back; the $share subscription does not (PUBACK 0x10)."""
    pub, sub = _restart_with_unacked(
        private_mosquitto(),
        "restart-shared",
        "$share/grp/restart/shared/#",
        "restart/shared/x",
        "s",
    )
    # Published after the restart, before the subscriber is back: nobody matches, dropped.
    after = publish(pub, "restart/shared/x", ["s2", "s3"])
    assert after == {"s2": NO_MATCHING_SUBSCRIBERS, "s3": NO_MATCHING_SUBSCRIBERS}
    sub.connect(subscribe=False)
    assert sub.session_present is True
    # The unacked messages are redelivered (DUP set); s2 and s3 never come.
    assert sorted(sub.take(2)) == [("s0", True), ("s1", True)]
    # The restored session still has no shared subscription until it subscribes again.
    assert publish(pub, "restart/shared/x", ["s4"]) == {"s4": NO_MATCHING_SUBSCRIBERS}
    assert sub.take(0) == []
    sub.lose_connection()
    sub.connect(subscribe=True)
    assert publish(pub, "restart/shared/x", ["s5"]) == {"s5": SUCCESS}
    assert sub.take(1) == [("s5", False)]
    sub.lose_connection()


def test_non_shared_persistent_subscription_survives_graceful_restart(
    private_mosquitto: Callable[..., PrivateMosquitto],
) -> None:
    """A non-shared subscription is restored: messages published before the reconnect are kept."""
    pub, sub = _restart_with_unacked(
        private_mosquitto(), "restart-plain", "restart/plain/#", "restart/plain/x", "p"
    )
    assert publish(pub, "restart/plain/x", ["p2", "p3"]) == {"p2": SUCCESS, "p3": SUCCESS}
    sub.connect(subscribe=False)  # no SUBSCRIBE: the restored session must deliver by itself
    assert sub.session_present is True
    assert sorted(sub.take(4)) == [("p0", True), ("p1", True), ("p2", False), ("p3", False)]
    assert publish(pub, "restart/plain/x", ["p4"]) == {"p4": SUCCESS}
    assert sub.take(1) == [("p4", False)]
    sub.lose_connection()


async def test_simulator_counts_acks_without_subscribers(
    private_mosquitto: Callable[..., PrivateMosquitto], tmp_path: Path
) -> None:
    """PUBACK 0x10 stays an ``ok`` outcome (the device was told so) but is counted apart."""
    broker = private_mosquitto()
    login = broker.login("publisher")
    options = RunOptions(
        port=broker.port,
        username=login.username,
        password=login.password,
        speed=0.0,
        progress=False,
        log_path=tmp_path / "run.log",
        ack_timeout_s=20.0,
    )
    config = FleetConfig(families=("v2x",), devices=1, rate=20.0, duration_s=1.0, seed=5)
    summary = await run_fleet_async(config, options)  # nobody subscribes on this broker
    assert summary.published > 0
    assert summary.outcomes["ok"] == summary.no_subscribers == summary.published
    assert summary.refused == 0
