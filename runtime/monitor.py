"""The monitor: broker queue depth and drops from Mosquitto ``$SYS``, and consumer lag per stage.

Why a process of its own: the alarms must keep reporting when the services they watch are down
(a stalled pipeline is exactly when the broker queue grows and, past ``max_queued_messages``,
drops silently, docs/reliability.md W5). ``python -m runtime.monitor`` subscribes to ``$SYS/broker/#``
(QoS 0, read-only) and exports the counters as gauges; every ``interval_s`` it computes the lag of
each stage: Kafka-committed offsets for normalize and share, the offsets stored with the rows in
PostgreSQL for the sink (its authoritative position). Alert rules: ``stack/alerts.yml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import Gauge
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, DbConfig, KafkaConfig, MetricsConfig, MqttConfig
from runtime.cli_entry import LOG_FORMAT
from runtime.http_endpoint import HealthServer

__all__ = ["SYS_GAUGES", "SYS_VALUES", "MonitorConfig", "MonitorSettings", "main", "run_monitor"]

logger = logging.getLogger(__name__)

# $SYS topic (below $SYS/broker/) -> exported gauge; Mosquitto publishes them every sys_interval.
SYS_GAUGES: dict[str, Gauge] = {
    "store/messages/count": Gauge(
        "sensegate_mqtt_broker_stored_messages", "messages held by the broker (queues, retained)"
    ),
    "store/messages/bytes": Gauge(
        "sensegate_mqtt_broker_stored_bytes", "bytes held by the broker"
    ),
    "publish/messages/dropped": Gauge(
        "sensegate_mqtt_broker_dropped_messages",
        "messages the broker dropped (queue limits) since it started; any increase is loss",
    ),
    "clients/connected": Gauge("sensegate_mqtt_broker_clients_connected", "clients connected"),
    "clients/disconnected": Gauge(
        "sensegate_mqtt_broker_clients_disconnected",
        "persistent sessions whose client is away (their messages queue up)",
    ),
}
SYS_VALUES: dict[str, float] = {}  # last value per watched $SYS topic (for tests and logs)
SYS_SEEN = Gauge("sensegate_mqtt_broker_sys_up", "1 while $SYS updates arrive")
LAG = Gauge("sensegate_consumer_lag", "records not yet processed", ["stage", "group", "topic"])


class MonitorConfig(BaseModel):
    """Which consumer groups to watch, and how often."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_s: float = Field(default=10.0, gt=0, description="seconds between lag checks")
    normalize_group: str = Field(default="sensegate-normalize", description="normalize group")
    share_group: str = Field(default="sensegate-share", description="share group")
    sink_group: str = Field(default="sensegate-sink", description="sink group (offsets in PG)")


class MonitorSettings(BaseSettings):
    """Settings of ``python -m runtime.monitor`` (environment prefix ``SENSEGATE_``)."""

    model_config = SETTINGS_CONFIG

    mqtt: MqttConfig = MqttConfig()
    kafka: KafkaConfig = KafkaConfig()
    db: DbConfig = DbConfig()
    metrics: MetricsConfig = MetricsConfig()
    monitor: MonitorConfig = MonitorConfig()


def _on_sys(_client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
    gauge = SYS_GAUGES.get(msg.topic.removeprefix("$SYS/broker/"))
    if gauge is None:
        return
    with contextlib.suppress(ValueError):
        value = float(msg.payload.decode(errors="replace").split()[0])
        gauge.set(value)
        SYS_VALUES[msg.topic.removeprefix("$SYS/broker/")] = value
        SYS_SEEN.set(1)


def _sys_client(cfg: MqttConfig) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="sensegate-monitor", protocol=mqtt.MQTTv5
    )
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
    if cfg.tls:
        client.tls_set()
    client.on_message = _on_sys
    client.on_connect = lambda c, *_: c.subscribe("$SYS/broker/#", qos=0)
    client.on_disconnect = lambda *_: SYS_SEEN.set(0)
    client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    return client


async def _kafka_lag(settings: MonitorSettings) -> None:
    cfg, kafka = settings.monitor, settings.kafka.client_kwargs()
    admin = AIOKafkaAdminClient(**kafka)
    probe = AIOKafkaConsumer(**kafka)
    await admin.start()
    await probe.start()
    try:
        for stage, group in (("normalize", cfg.normalize_group), ("share", cfg.share_group)):
            committed = await admin.list_consumer_group_offsets(group)
            ends = await probe.end_offsets(list(committed)) if committed else {}
            _export(stage, group, {tp: ends[tp] - meta.offset for tp, meta in committed.items()})
    finally:
        await probe.stop()
        await admin.close()


async def _sink_lag(settings: MonitorSettings) -> None:
    group = settings.monitor.sink_group
    async with await psycopg.AsyncConnection.connect(
        settings.db.dsn.get_secret_value(), connect_timeout=10
    ) as conn:
        query = sql.SQL("SELECT topic, partition, next_offset FROM {} WHERE group_id = %s")
        cur = await conn.execute(
            query.format(sql.Identifier(settings.db.schema_name, "ingest_offset")), (group,)
        )
        stored = {TopicPartition(t, p): int(o) for t, p, o in await cur.fetchall()}
    if not stored:
        return
    probe = AIOKafkaConsumer(**settings.kafka.client_kwargs())
    await probe.start()
    try:
        ends = await probe.end_offsets(list(stored))
    finally:
        await probe.stop()
    _export("sink", group, {tp: ends[tp] - offset for tp, offset in stored.items()})


def _export(stage: str, group: str, lags: dict[TopicPartition, int]) -> None:
    per_topic: dict[str, int] = {}
    for tp, lag in lags.items():
        per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(lag, 0)
    for topic, lag in per_topic.items():
        LAG.labels(stage, group, topic).set(lag)


async def run_monitor(settings: MonitorSettings, stop: asyncio.Event) -> None:
    """Export broker and lag metrics until ``stop`` is set; a failed check is logged, not fatal."""
    health = HealthServer(settings.metrics, lambda: True)
    await health.start()
    client = _sys_client(settings.mqtt)
    client.loop_start()
    try:
        while not stop.is_set():
            for check in (_kafka_lag, _sink_lag):
                try:
                    await asyncio.wait_for(check(settings), settings.monitor.interval_s * 3)
                except Exception as exc:  # an alarm source down must not stop the others
                    logger.warning("lag check %s failed: %r", check.__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.monitor.interval_s)
    finally:
        client.disconnect()
        client.loop_stop()
        await health.stop()


def main() -> None:
    """Entry point: run until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_monitor(MonitorSettings(), stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
