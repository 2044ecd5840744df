"""Helpers for the gateway integration tests: gateways (in-process or subprocess), a QoS 1
publisher that records which messages the broker PUBACKed, and a Kafka reader for the oracle."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from paho.mqtt.enums import CallbackAPIVersion

from contracts.dead_letter import DeadLetter
from contracts.envelope import Envelope
from gateway.app import Gateway
from gateway.config import GatewaySettings
from runtime.kafka_client import client_kwargs, config_for
from tests.fixtures.mqtt_auth import MqttLogin

ROOT = Path(__file__).resolve().parents[3]
PAYLOAD_SIZE = 200


def payload_for(msg_id: str, size: int = PAYLOAD_SIZE) -> bytes:
    """A payload starting with the message id, padded to ``size`` bytes."""
    head = f"{msg_id}|".encode()
    return head + b"x" * max(0, size - len(head))


def id_of(payload: bytes) -> str:
    """The message id a payload starts with."""
    return payload.split(b"|", 1)[0].decode()


def gateway_overrides(
    *,
    mqtt: MqttLogin,
    kafka: str,
    prefix: str,
    instance: str,
    subscriptions: Iterable[str],
    metrics_port: int = 0,
    **gateway: Any,
) -> dict[str, Any]:
    """Settings document for one test gateway."""
    return {
        "mqtt": mqtt.settings(),
        "kafka": {**_kafka_login(kafka), "topic_prefix": prefix},
        "metrics": {"port": metrics_port},
        "gateway": {
            "instance_id": instance,
            "subscriptions": list(subscriptions),
            "produce_timeout_s": 5.0,
            "reconnect_max_s": 2,
            "log_format": "text",
            **gateway,
        },
    }


@contextlib.asynccontextmanager
async def in_process_gateway(doc: dict[str, Any], ready_s: float = 30) -> AsyncIterator[Gateway]:
    """Run a gateway as a task of this loop; stops it gracefully on exit."""
    gw = Gateway(GatewaySettings.model_validate(doc))
    task = asyncio.create_task(gw.run())
    try:
        deadline = time.monotonic() + ready_s
        while not gw.ready:
            if task.done() or time.monotonic() > deadline:
                msg = "in-process gateway did not become ready"
                raise RuntimeError(msg)
            await asyncio.sleep(0.05)
        yield gw
    finally:
        gw.request_stop()
        await asyncio.wait_for(task, 60)


def _kafka_login(bootstrap: str) -> dict[str, Any]:
    """The gateway's Kafka section: address and the operator's (or a private broker's) login."""
    cfg = config_for(bootstrap)
    return {
        "bootstrap_servers": bootstrap,
        "security_protocol": cfg.security_protocol,
        "sasl_mechanism": cfg.sasl_mechanism,
        "sasl_username": cfg.sasl_username,
        "sasl_password": cfg.sasl_password.get_secret_value(),
        "ssl_cafile": str(cfg.ssl_cafile),
    }


def _flatten(doc: dict[str, Any], prefix: str = "SENSEGATE_") -> dict[str, str]:
    import json

    env: dict[str, str] = {}
    for key, value in doc.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, dict):
            env.update(_flatten(value, f"{name}__"))
        elif isinstance(value, list | tuple):
            env[name] = json.dumps(value)
        else:
            env[name] = str(value)
    return env


@dataclass
class GatewayProcess:
    """``python -m gateway`` as a child process configured through the environment."""

    doc: dict[str, Any]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. a test-only fault point

    @property
    def metrics_port(self) -> int:
        return int(self.doc["metrics"]["port"])

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")}
        env.update(_flatten(self.doc))
        env.update(self.extra_env)
        env["PYTHONPATH"] = str(ROOT)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway"], env=env, stdout=log, stderr=log, cwd=ROOT
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.metrics_port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.2)
        msg = f"gateway process not ready: {self.log_path.read_text()[-2000:]}"
        raise AssertionError(msg)

    def metrics(self) -> dict[str, float]:
        """Sum of each metric's samples (labels collapsed), from /metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            out[name] = out.get(name, 0.0) + float(value)
        return out

    def rss_kb(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # stack dump into the log, then fail
            time.sleep(1)
            raise

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@dataclass
class Publisher:
    """A QoS 1 MQTT v5 publisher that remembers which message ids the broker PUBACKed."""

    login: MqttLogin
    client_id: str
    infos: list[tuple[str, mqtt.MQTTMessageInfo]] = field(default_factory=list)
    acked_mids: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        self.login.apply(self.client)
        self.client.max_inflight_messages_set(100)
        self.client.on_publish = self._on_publish
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 600
        self.client.connect(
            self.login.host, self.login.port, clean_start=False, properties=props
        )
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        # Called on paho's thread when the broker's PUBACK arrives (ids stay fixed across
        # reconnects; a test publishes far fewer than 65 535 messages per publisher).
        if not reason.is_failure:
            self.acked_mids.add(mid)

    def publish(self, topic: str, payload: bytes, msg_id: str, **kwargs: Any) -> None:
        self.infos.append((msg_id, self.client.publish(topic, payload, qos=1, **kwargs)))

    def stream(
        self, items: list[tuple[str, bytes, str]], rate: float, stop: threading.Event | None = None
    ) -> threading.Thread:
        """Publish items at about ``rate`` msg/s from a thread (bounded by len(items))."""

        def run() -> None:
            start = time.monotonic()
            for i, (topic, payload, msg_id) in enumerate(items):
                if stop is not None and stop.is_set():
                    return
                self.publish(topic, payload, msg_id)
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def wait_acked(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.acked_ids()) == len(self.infos):
                return
            time.sleep(0.1)

    def acked_ids(self) -> set[str]:
        acked = set(self.acked_mids)
        return {msg_id for msg_id, info in list(self.infos) if info.mid in acked}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class KafkaView:
    """What the oracle read back: ids per raw record, dead letters, and envelopes."""

    raw_ids: Counter[str] = field(default_factory=Counter)
    envelopes: list[Envelope] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.raw_ids.values() if n > 1)


async def read_kafka(
    bootstrap: str, prefix: str, want: set[str], *, families: Iterable[str], idle_s: float = 8
) -> KafkaView:
    """Read the raw topics and the DLQ from the start until every wanted id is seen or idle."""
    topics = [f"{prefix}raw.{f}" for f in families] + [f"{prefix}dlq"]
    consumer = AIOKafkaConsumer(
        *topics,
        **client_kwargs(bootstrap),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    view = KafkaView()
    try:
        last = time.monotonic()
        while time.monotonic() - last < idle_s:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for rec in records:
                    last = time.monotonic()
                    if tp.topic.endswith("dlq"):
                        view.dead.append(DeadLetter.from_json(rec.value or b""))
                        continue
                    env = Envelope.from_kafka(rec.value, rec.headers)
                    view.envelopes.append(env)
                    view.raw_ids[id_of(env.payload)] += 1
            if want and want <= set(view.raw_ids):
                break
    finally:
        await consumer.stop()
    return view


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Remove the topics a test created (best effort)."""
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap, request_timeout_ms=5000))
    try:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(admin.start(), 10)
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if names:
                await asyncio.wait_for(admin.delete_topics(names), 15)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def report(name: str, published: int, acked: set[str], view: KafkaView) -> str:
    """One line of oracle figures, printed by each test (duplicates are reported, not failed)."""
    lost = len(acked - set(view.raw_ids))
    line = (
        f"[{name}] published={published} acked={len(acked)} in_kafka={len(view.raw_ids)} "
        f"lost={lost} dup_kafka={view.duplicates()} dead_letters={len(view.dead)}"
    )
    print(line)
    return line
