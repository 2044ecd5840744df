"""Record building: raw envelopes keep the bytes and metadata; bad input becomes a dead letter."""

from __future__ import annotations

import hashlib
import json

import pytest

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.envelope import Envelope
from gateway.config import GatewayConfig
from gateway.forward import RecordBuilder
from gateway.mqtt_bridge import Inbound
from gateway.routing import DEFAULT_ROUTES, Router


def make_inbound(topic: str, payload: bytes, *, valid: bool = True, dup: bool = False) -> Inbound:
    return Inbound(
        generation=1,
        mid=7,
        qos=1,
        retain=False,
        dup=dup,
        topic=topic,
        topic_valid=valid,
        payload=payload,
        user_properties=(("src", "rsu"), ("n", "1")),
        received_ns=1_700_000_000_123_456_789,
    )


@pytest.fixture
def builder() -> RecordBuilder:
    cfg = GatewayConfig(instance_id="gw-1", max_payload_bytes=1000, dlq_keep_bytes=16)
    return RecordBuilder(cfg, Router(DEFAULT_ROUTES), "pfx.")


def test_raw_envelope_round_trip(builder: RecordBuilder) -> None:
    payload = bytes(range(256))
    out = builder.build(make_inbound("V2X/RSU/R1/RSM/UP/DAWNLINE", payload, dup=True))
    assert out.reason is None
    assert out.topic == "pfx.raw.v2x"
    assert out.key == b"R1"
    assert out.value == payload
    env = Envelope.from_kafka(out.value, out.headers)
    assert env.device_id == "R1"
    assert env.family == "v2x"
    assert env.driver == "DAWNLINE"
    assert env.gateway_id == "gw-1"
    assert env.received_ns == 1_700_000_000_123_456_789
    assert env.dup is True
    assert env.qos == 1
    assert env.user_properties == (("src", "rsu"), ("n", "1"))
    assert env.sha256 == hashlib.sha256(payload).hexdigest()


def _letter(out_value: bytes) -> DeadLetter:
    return DeadLetter.from_json(out_value)


def test_unroutable_topic(builder: RecordBuilder) -> None:
    out = builder.build(make_inbound("not/ours", b"abc"))
    assert out.topic == "pfx.dlq"
    assert out.reason is ReasonCode.TOPIC_UNROUTABLE
    letter = _letter(out.value)
    assert letter.stage is Stage.GATEWAY
    assert letter.payload == b"abc"
    assert letter.envelope["topic"] == "not/ours"
    assert letter.envelope["device_id"] == ""
    assert dict(out.headers)["sg.reason"] == b"topic_unroutable"


def test_invalid_utf8_topic(builder: RecordBuilder) -> None:
    out = builder.build(make_inbound("V2X/RSU/\\xff/RSM/UP", b"abc", valid=False))
    assert out.reason is ReasonCode.TOPIC_UNROUTABLE
    assert "UTF-8" in _letter(out.value).detail


def test_empty_payload_keeps_device(builder: RecordBuilder) -> None:
    out = builder.build(make_inbound("spBv1.0/g/DDATA/e/d", b""))
    assert out.reason is ReasonCode.PAYLOAD_EMPTY
    assert out.key == b"g/e/d"
    letter = _letter(out.value)
    assert letter.envelope["family"] == "iiot"
    assert letter.payload == b""


def test_oversize_is_truncated_with_full_hash(builder: RecordBuilder) -> None:
    payload = b"z" * 1001
    out = builder.build(make_inbound("not/routable/either", payload))
    assert out.reason is ReasonCode.PAYLOAD_TOO_LARGE  # size is checked first
    letter = _letter(out.value)
    assert letter.payload == b"z" * 16
    assert letter.envelope["payload_size"] == 1001
    assert letter.envelope["truncated"] is True
    assert letter.envelope["sha256"] == hashlib.sha256(payload).hexdigest()


def test_oversize_of_a_sealed_family_keeps_no_payload_bytes() -> None:
    cfg = GatewayConfig(
        instance_id="gw-1", max_payload_bytes=1000, dlq_keep_bytes=16, seal_families=("v2x",)
    )
    sealing = RecordBuilder(cfg, Router(DEFAULT_ROUTES), "pfx.")
    payload = b"p" * 1001
    letter = _letter(sealing.build(make_inbound("V2X/RSU/R1/RSM/UP", payload)).value)
    assert letter.envelope["family"] == "v2x" and letter.payload == b""
    assert letter.envelope["truncated"] is True and letter.envelope["payload_size"] == 1001
    assert letter.envelope["sha256"] == hashlib.sha256(payload).hexdigest()
    # another family keeps its first bytes as before
    other = _letter(sealing.build(make_inbound("not/routable/either", payload)).value)
    assert other.payload == b"p" * 16


def test_payload_at_limit_passes(builder: RecordBuilder) -> None:
    out = builder.build(make_inbound("V2X/RSU/R1/RSM/UP", b"a" * 1000))
    assert out.reason is None


def test_dead_letter_value_is_json(builder: RecordBuilder) -> None:
    out = builder.build(make_inbound("x", b"\x00\xff"))
    doc = json.loads(out.value)
    assert doc["reason"] == "topic_unroutable"
    assert doc["stage"] == "gateway"
