"""Readiness probes for the native stack: exit 0 when the named service answers."""

from __future__ import annotations

import asyncio
import sys


def probe_mqtt(port: int) -> None:
    """Connect to Mosquitto and wait for CONNACK."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port, keepalive=5)
    client.disconnect()


def probe_pg(port: int) -> None:
    """Create the sensegate database when missing, then run one query against it."""
    import psycopg

    admin = f"postgresql://sensegate:sensegate@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'sensegate'").fetchone() is None:
            conn.execute("CREATE DATABASE sensegate")
    dsn = f"postgresql://sensegate:sensegate@127.0.0.1:{port}/sensegate"
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        conn.execute("SELECT 1").fetchone()


async def _probe_kafka(port: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), 5)
    try:
        await asyncio.wait_for(admin.list_topics(), 5)
    finally:
        await admin.close()


def main() -> int:
    """Probe the service named in argv[1] on the port in argv[2]."""
    kind, port = sys.argv[1], int(sys.argv[2])
    try:
        if kind == "mqtt":
            probe_mqtt(port)
        elif kind == "pg":
            probe_pg(port)
        elif kind == "kafka":
            asyncio.run(_probe_kafka(port))
        else:
            return 2
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
