"""Pure per-message decision: raw envelope for ``<prefix>raw.<family>`` or a dead letter for ``<prefix>dlq``.

Checks, in order: payload over the size limit (its dead letter keeps only a prefix of the bytes,
so it always fits in Kafka), undecodable or unroutable topic, empty payload. A dead letter still
carries the family and device id when its topic routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.envelope import Envelope
from contracts.topics import dlq_topic, raw_topic
from gateway.config import GatewayConfig
from gateway.mqtt_bridge import Inbound
from gateway.routing import Router

__all__ = ["Outgoing", "RecordBuilder"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Kafka record to produce; ``reason`` is set for dead letters."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    family: str
    reason: ReasonCode | None = None
    device_id: str = ""
    received_ns: int = 0
    sealed: bool = False  # payload sealed (gateway.sealing)


class RecordBuilder:
    """Turns inbound MQTT messages into Kafka records; pure, no I/O."""

    def __init__(self, config: GatewayConfig, router: Router, topic_prefix: str) -> None:
        self._cfg = config
        self._router = router
        self._prefix = topic_prefix
        self._dlq = dlq_topic(topic_prefix)

    def build(self, msg: Inbound) -> Outgoing:
        """The record for one message: its raw envelope, or a dead letter with a reason code."""
        if len(msg.payload) > self._cfg.max_payload_bytes:
            detail = f"payload of {len(msg.payload)} bytes exceeds {self._cfg.max_payload_bytes}"
            return self.dead_letter(msg, ReasonCode.PAYLOAD_TOO_LARGE, detail)
        match = self._router.route(msg.topic) if msg.topic_valid else None
        if match is None:
            detail = (
                "topic is not valid UTF-8" if not msg.topic_valid else "no route matches the topic"
            )
            return self.dead_letter(msg, ReasonCode.TOPIC_UNROUTABLE, detail)
        if not msg.payload:
            return self.dead_letter(msg, ReasonCode.PAYLOAD_EMPTY, "empty payload")
        envelope = Envelope(
            payload=msg.payload,
            topic=msg.topic,
            family=match.family,
            device_id=match.device_id,
            received_ns=msg.received_ns,
            gateway_id=self._cfg.instance_id,
            qos=msg.qos,
            retain=msg.retain,
            dup=msg.dup,
            driver=match.driver,
            user_properties=msg.user_properties,
        )
        return Outgoing(
            topic=raw_topic(self._prefix, match.family),
            key=envelope.kafka_key(),
            value=envelope.payload,
            headers=envelope.kafka_headers(),
            family=match.family,
            device_id=match.device_id,
            received_ns=msg.received_ns,
        )

    def dead_letter(self, msg: Inbound, reason: ReasonCode, detail: str) -> Outgoing:
        """A DLQ record; an oversize payload keeps its first ``dlq_keep_bytes`` (sealed families: none)."""
        match = self._router.route(msg.topic) if msg.topic_valid else None
        meta: dict[str, Any] = Envelope(
            payload=msg.payload,
            topic=msg.topic,
            family=match.family if match else "",
            device_id=match.device_id if match else "",
            received_ns=msg.received_ns,
            gateway_id=self._cfg.instance_id,
            qos=msg.qos,
            retain=msg.retain,
            dup=msg.dup,
            driver=match.driver if match else "",
            user_properties=msg.user_properties,
        ).metadata()
        payload = msg.payload
        meta["payload_size"] = len(payload)
        # A family whose raw payloads are sealed keeps none of an oversize payload in clear (only
        # its size and hash in the envelope): an erasure could not shred the letter.
        sealed_family = match is not None and match.family in self._cfg.seal_families
        keep = 0 if sealed_family else self._cfg.dlq_keep_bytes
        if reason is ReasonCode.PAYLOAD_TOO_LARGE and len(payload) > keep:
            payload = payload[:keep]
            meta["truncated"] = True
        letter = DeadLetter(
            reason=reason, detail=detail, stage=Stage.GATEWAY, payload=payload, envelope=meta
        )
        return Outgoing(
            topic=self._dlq,
            key=letter.kafka_key(),
            value=letter.to_json(),
            headers=letter.kafka_headers(),
            family=str(meta["family"]),
            reason=reason,
        )
