"""Prometheus metrics of one gateway instance (own registry, so several instances can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """Counters, gauges and the produce latency histogram, all prefixed ``sensegate_gateway_``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "sensegate_gateway_received", "MQTT messages received", ["qos"], registry=r
        )
        self.produced = Counter(
            "sensegate_gateway_produced",
            "Raw envelopes acknowledged by Kafka",
            ["family"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "sensegate_gateway_dead_lettered",
            "Messages written to the dead-letter topic",
            ["reason"],
            registry=r,
        )
        self.acknowledged = Counter(
            "sensegate_gateway_acknowledged", "PUBACKs released to the broker", registry=r
        )
        self.produce_errors = Counter(
            "sensegate_gateway_produce_errors",
            "Failed or timed-out produce attempts (retried, never acked)",
            ["kind"],
            registry=r,
        )
        self.orphaned = Counter(
            "sensegate_gateway_orphaned",
            "Messages whose connection dropped before their ack (the broker redelivers them)",
            registry=r,
        )
        self.connections = Counter(
            "sensegate_gateway_mqtt_connections", "Successful MQTT connections", registry=r
        )
        self.session_lost = Counter(
            "sensegate_gateway_mqtt_session_lost",
            "Reconnects without a session present (queued messages may be lost: W6)",
            registry=r,
        )
        self.broker_refusals = Counter(
            "sensegate_gateway_broker_refusals",
            "Clients the broker refused or disconnected, from its log lines (gateway/broker_audit.py)",
            ["reason"],
            registry=r,
        )
        self.producer_recreated = Counter(
            "sensegate_gateway_producer_recreated", "Kafka producer re-creations", registry=r
        )
        self.in_flight = Gauge(
            "sensegate_gateway_in_flight", "Messages received and not yet released", registry=r
        )
        self.connected = Gauge(
            "sensegate_gateway_mqtt_connected", "1 while the MQTT connection is up", registry=r
        )
        self.produce_latency = Histogram(
            "sensegate_gateway_produce_latency_seconds",
            "Receive-to-Kafka-ack latency of successful produces",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
