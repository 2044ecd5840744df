"""The tuned paho client: its PUBLISH decoder agrees with paho's, buffered reads, batched PUBACKs."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import _packet as paho_packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.paho_client import BufferedClient, MalformedPublish, PublishFields, decode_publish


def _props(**values: object) -> bytes:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    for name, value in values.items():
        setattr(props, name, value)
    packed: bytes = props.pack()  # type: ignore[no-untyped-call]
    return packed


def _body(topic: bytes, mid: int | None, props: bytes, payload: bytes) -> bytes:
    head = struct.pack("!H", len(topic)) + topic
    if mid is not None:
        head += struct.pack("!H", mid)
    return head + props + payload


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


CASES = [
    (0x32, b"V2X/RSU/r1/RSM/UP", 7, _props(), b'{"a":1}'),
    (0x30, b"spBv1.0/g/DDATA/e/d", None, _props(), b"\x00\x01"),
    (0x3B, "application/中文/device/x/event/up".encode(), 65535, _props(), b""),
    (
        0x32,
        b"t/1",
        1,
        _props(
            UserProperty=[("vendor", "huali"), ("键", "值")],
            ContentType="application/json",
            PayloadFormatIndicator=1,
            MessageExpiryInterval=60,
            ResponseTopic="r/1",
            CorrelationData=b"\x01\x02",
            SubscriptionIdentifier=[300],
        ),
        b"x" * 300,
    ),
    (0x32, b"t/\xff\xfe", 9, _props(UserProperty=[("k", "")]), b"p"),
]


@pytest.mark.parametrize(("header", "topic", "mid", "props", "payload"), CASES)
def test_decode_publish_agrees_with_paho(
    header: int, topic: bytes, mid: int | None, props: bytes, payload: bytes
) -> None:
    body = _body(topic, mid, props, payload)
    ours = decode_publish(header, bytearray(body))
    theirs = paho_packet.decode_publish(header, bytearray(body), MQTTProtocolVersion.MQTTv5)
    assert ours.topic == theirs.topic == topic
    assert ours.payload == theirs.payload == payload
    assert ours.mid == theirs.mid
    assert (ours.qos, ours.retain, ours.dup) == (theirs.qos, theirs.retain, theirs.dup)
    expected = getattr(theirs.properties, "UserProperty", [])
    assert list(ours.user_properties) == [tuple(p) for p in expected]


@pytest.mark.parametrize(
    "body",
    [
        b"\x00",  # shorter than the topic length
        b"\x00\x09abc",  # topic beyond the packet
        b"\x00\x01t\x00",  # packet id cut short
        b"\x00\x01t\x00\x01\x05\x26\x00\x01",  # properties beyond the packet
        b"\x00\x01t\x00\x01\x02\x7f\x00",  # property not allowed in PUBLISH
        b"\x00\x01t\x00\x01\x03\x26\x00\x05",  # user property string beyond the properties
        b"\x00\x01t\x00\x01\xff\xff\xff\xff\x01",  # variable byte integer of five bytes
    ],
)
def test_malformed_publish_is_paho_malformed_packet(body: bytes) -> None:
    with pytest.raises(MalformedPublish) as info:
        decode_publish(0x32, bytearray(body))
    assert isinstance(info.value, MalformedPacket)  # paho's reader turns it into a disconnect


def test_queue_pubacks_queues_one_write_in_order() -> None:
    client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    client.queue_pubacks([1, 2, 65535])
    client.queue_pubacks([])
    queued = list(client._out_packet)
    assert len(queued) == 1
    assert queued[0]["packet"] == bytes.fromhex("40020001 40020002 4002ffff".replace(" ", ""))


def test_buffered_reads_hand_over_every_packet_of_one_segment() -> None:
    client = BufferedClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    got: list[PublishFields] = []
    client.on_publish_fields = got.append
    ours, peer = socket.socketpair()
    try:
        ours.setblocking(False)
        client._sock = ours
        packets = b""
        for mid in range(1, 201):
            body = _body(b"V2X/RSU/r1/RSM/UP", mid, _props(), b"p" * (50 + mid))
            packets += b"\x32" + _remaining_length(len(body)) + body
        half = len(packets) // 2 + 3  # split one packet across two segments
        peer.sendall(packets[:half])
        assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        first = len(got)
        assert 0 < first < 200
        peer.sendall(packets[half:])
        assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
        assert [f.mid for f in got] == list(range(1, 201))
        assert [len(f.payload) for f in got] == [50 + mid for mid in range(1, 201)]
        assert not client._rbuf
    finally:
        client._sock = None
        ours.close()
        peer.close()
