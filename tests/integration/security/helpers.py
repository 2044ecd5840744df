"""Helpers of the broker security tests: one-shot MQTT clients that report what the broker said."""

from __future__ import annotations

import gc
import os
import ssl
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.private_stack import PrivateMosquitto
from tests.fixtures.services import StackAddresses

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Outcome:
    """What one client saw: CONNACK reason, PUBACK reasons by mid, disconnect reasons, errors."""

    connack: int | None = None
    pubacks: dict[int, int] = field(default_factory=dict)
    disconnects: list[int] = field(default_factory=list)
    error: str = ""
    connected: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)


def client(
    port: int,
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca: Path | None = None,
    cert: tuple[Path, Path] | None = None,
    tls_default_trust: bool = False,
    reconnect: bool = False,
) -> tuple[mqtt.Client, Outcome]:
    """Connect an MQTT v5 client and wait for the CONNACK (or the failure)."""
    out = Outcome()
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=reconnect,
    )
    if username is not None:
        c.username_pw_set(username, password)
    if ca is not None or cert is not None or tls_default_trust:
        c.tls_set(
            ca_certs=str(ca) if ca else None,
            certfile=str(cert[0]) if cert else None,
            keyfile=str(cert[1]) if cert else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        out.connack = int(reason.value)
        out.connected.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        out.disconnects.append(int(reason.value))
        out.disconnected.set()
        out.connected.set()

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        out.pubacks[mid] = int(reason.value)

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_publish = on_publish
    # paho drops the socket of a failed TLS handshake without closing it: collect it while its
    # ResourceWarning (an error in tests) is ignored, not later in an unrelated test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            c.connect("127.0.0.1", port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            out.error = f"{type(exc).__name__}: {exc}"
        gc.collect()
    if out.error:
        return c, out
    c.loop_start()
    out.connected.wait(10)
    return c, out


def publish_and_wait(c: mqtt.Client, out: Outcome, topic: str, payload: bytes) -> int:
    """Publish at QoS 1; returns the PUBACK reason code (0x10 counts as accepted: 0)."""
    info = c.publish(topic, payload, qos=1)
    deadline = time.monotonic() + 10
    while info.mid not in out.pubacks and time.monotonic() < deadline:
        time.sleep(0.02)
    code = out.pubacks[info.mid]
    # 0x10 "No matching subscribers" is a success code: accepted, nobody was listening.
    return 0 if code == 0x10 else code


def close(c: mqtt.Client) -> None:
    """Disconnect and stop the network thread."""
    c.disconnect()
    c.loop_stop()


def devices_cli(
    stack: StackAddresses, broker: PrivateMosquitto, schema: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m processors devices ...`` administering ``broker``, registry in ``schema``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")}
    env.update(
        SENSEGATE_DB__DSN=stack.pg_dsn,
        SENSEGATE_DB__SCHEMA_NAME=schema,
        SENSEGATE_BROKER__MQTT__PORT=str(broker.port),
        SENSEGATE_BROKER__MQTT__USERNAME=broker.admin.username or "",
        SENSEGATE_BROKER__MQTT__PASSWORD=broker.admin_password,
        SENSEGATE_BROKER__PKI_STATE=str(broker.state.parent),
        SENSEGATE_BROKER__PID_FILE=str(broker.write_pid_file()),
        SENSEGATE_BROKER__TLS_PORT=str(broker.tls_port),
        SENSEGATE_BROKER__MTLS_PORT=str(broker.mtls_port),
        PYTHONPATH=str(ROOT),
    )
    return subprocess.run(
        [sys.executable, "-m", "processors", "--log-level", "WARNING", "devices", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
