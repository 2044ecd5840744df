"""Readiness probes for the native stack: exit 0 when the named service answers.

Kafka and PostgreSQL are probed with the stack's own credentials (``STATE/secrets``, state folder
from ``SENSEGATE_STATE``): neither answers an anonymous client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: the MQTT probe also runs as a plain script
    from contracts.settings import KafkaConfig


def _state() -> Path:
    return Path(os.environ["SENSEGATE_STATE"])


def probe_mqtt(port: int) -> None:
    """Connect to Mosquitto and wait for CONNACK."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port, keepalive=5)
    client.disconnect()


def probe_pg(port: int) -> None:
    """Log in as the bootstrap superuser over verified TLS and run one query."""
    import psycopg

    from stack.credentials import password

    state = _state()
    dsn = (
        f"postgresql://sensegate_bootstrap:{password(state, 'pg-bootstrap')}@127.0.0.1:{port}/"
        f"postgres?sslmode=verify-full&sslrootcert={state / 'pki' / 'ca.crt'}"
    )
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        conn.execute("SELECT 1").fetchone()


def admin_kafka(port: int, state: Path) -> KafkaConfig:
    """The admin principal over SASL_SSL on ``port`` (what the stack bootstrap uses)."""
    from pydantic import SecretStr

    from contracts.settings import KafkaConfig
    from stack.credentials import KAFKA_ADMIN, password

    return KafkaConfig(
        bootstrap_servers=f"127.0.0.1:{port}",
        sasl_username=KAFKA_ADMIN,
        sasl_password=SecretStr(password(state, "kafka-admin")),
        ssl_cafile=state / "pki" / "ca.crt",
        request_timeout_ms=3000,
    )


async def kafka_metadata(config: KafkaConfig) -> None:
    """One metadata request as ``config``'s principal (raises when refused or unreachable)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**config.client_kwargs())
    await asyncio.wait_for(admin.start(), 5)
    try:
        await asyncio.wait_for(admin.list_topics(), 5)
    finally:
        await admin.close()


def kafka_answers(config: KafkaConfig) -> bool:
    """True when the broker answers a metadata request of ``config``'s principal.

    The probe runs its own event loop in a worker thread, so callers inside a running loop
    (async tests starting a private broker) can use it too.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(asyncio.run, kafka_metadata(config)).result()
        except Exception:
            return False
    return True


def main() -> int:
    """Probe the service named in argv[1] on the port in argv[2]."""
    kind, port = sys.argv[1], int(sys.argv[2])
    try:
        if kind == "mqtt":
            probe_mqtt(port)
        elif kind == "pg":
            probe_pg(port)
        elif kind == "kafka":
            asyncio.run(kafka_metadata(admin_kafka(port, _state())))
        else:
            return 2
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
