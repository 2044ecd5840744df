"""Envelope and dead-letter wire forms round-trip and refuse malformed input."""

from __future__ import annotations

import hashlib
import json

import pytest

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.envelope import Envelope, EnvelopeFormatError
from contracts.record import record_id_for
from contracts.topics import data_topic, dlq_topic, raw_topic


def _envelope(payload: bytes = b"\x00\x01payload") -> Envelope:
    return Envelope(
        payload=payload,
        topic="V2X/RSU/R1/RSM/UP/vendor",
        family="v2x",
        device_id="R1",
        received_ns=1_700_000_000_000_000_000,
        gateway_id="gw-1",
        dup=True,
        driver="vendor",
        user_properties=(("trace", "abc"), ("unit", "吉林")),
    )


def test_envelope_round_trips_through_kafka_form() -> None:
    env = _envelope()
    back = Envelope.from_kafka(env.payload, env.kafka_headers())
    assert back == env
    assert back.sha256 == hashlib.sha256(env.payload).hexdigest()
    assert env.kafka_key() == b"R1"


def test_envelope_refuses_tampered_payload_and_missing_headers() -> None:
    env = _envelope()
    with pytest.raises(EnvelopeFormatError, match="SHA-256"):
        Envelope.from_kafka(b"other", env.kafka_headers())
    with pytest.raises(EnvelopeFormatError, match="version"):
        Envelope.from_kafka(env.payload, [])
    headers = [(k, v) for k, v in env.kafka_headers() if k != "sg.device"]
    with pytest.raises(EnvelopeFormatError, match="malformed"):
        Envelope.from_kafka(env.payload, headers)


def test_dead_letter_round_trip_and_identity() -> None:
    env = _envelope(b"")
    dl = DeadLetter(
        ReasonCode.PAYLOAD_EMPTY, "empty payload", Stage.GATEWAY, env.payload, env.metadata()
    )
    back = DeadLetter.from_json(dl.to_json())
    assert back.reason is ReasonCode.PAYLOAD_EMPTY
    assert back.stage is Stage.GATEWAY
    assert back.source_identity == dl.source_identity
    assert ("sg.reason", b"payload_empty") in dl.kafka_headers()
    other = DeadLetter(ReasonCode.PAYLOAD_EMPTY, "x", Stage.GATEWAY, b"1", env.metadata())
    assert other.source_identity != dl.source_identity


def test_topic_names_and_record_ids() -> None:
    assert raw_topic("sensegate.", "agri") == "sensegate.raw.agri"
    assert data_topic("x.", "agri_soil") == "x.data.agri_soil"
    assert dlq_topic("sensegate.") == "sensegate.dlq"
    with pytest.raises(ValueError, match="invalid topic"):
        raw_topic("sensegate.", "Bad.Name")
    assert record_id_for("a", "k") == record_id_for("a", "k")
    assert record_id_for("a", "k") != record_id_for("b", "k")


def test_sparkplug_messages_of_one_edge_node_share_a_key() -> None:
    node = Envelope(
        payload=b"n",
        topic="spBv1.0/g/NDATA/e",
        family="iiot",
        device_id="g/e",
        received_ns=1,
        gateway_id="gw",
    )
    dev = Envelope(
        payload=b"d",
        topic="spBv1.0/g/DDATA/e/d1",
        family="iiot",
        device_id="g/e/d1",
        received_ns=2,
        gateway_id="gw",
    )
    assert node.kafka_key() == dev.kafka_key() == b"g/e"


def test_user_property_header_bytes_are_those_of_json_dumps() -> None:
    # the shared encoder must write exactly what json.dumps(..., ensure_ascii=False) wrote
    pairs = (("trace", "abc"), ("unit", "吉林"), ("q", 'a"b\\c\n\t\x01'), ("", ""), ("emoji", "🚗"))
    headers = dict(Envelope(payload=b"x", topic="t", family="v2x", device_id="d",
                            received_ns=1, gateway_id="g", user_properties=pairs).kafka_headers())
    assert headers["sg.up"] == json.dumps([list(p) for p in pairs], ensure_ascii=False).encode()
