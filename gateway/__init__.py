"""sensegate gateway: MQTT v5 (paho, manual ack) to Kafka (aiokafka, idempotent) with ordered acks."""

from __future__ import annotations

__all__: list[str] = []
