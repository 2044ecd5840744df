"""A paho-mqtt ``Client`` tuned for a QoS 1 subscriber that acks manually and in batches.

Stock paho 2.x spends most of a small message's cost in three places, measured with cProfile
and py-spy on the gateway: a ``recv`` system call per fixed-header byte and another for the body
(each one hands the GIL to the event-loop thread and back), paho's generic ``Properties`` parser
(hundreds of string operations per PUBLISH), and one ``send`` system call per PUBACK. This
subclass keeps paho's network loop, connection handling and reconnects, and changes only these:

- socket reads are buffered (one ``recv`` of up to 64 KiB serves many packets; ``loop_read`` keeps
  going while buffered bytes remain, so ``select`` is not asked about data already read);
- an MQTT v5 PUBLISH of QoS 0 or 1 is decoded by ``decode_publish`` below and handed to
  ``on_publish_fields`` as plain values (QoS 2, MQTT 3.1.1 or no handler: paho's own path);
- ``queue_pubacks`` queues the PUBACKs of many messages as one write;
- ``keep_alive`` lets paho's own thread, while held inside a read callback (the gateway's pipeline
  is full), still write queued PUBACKs and send PINGREQs, so the broker does not drop the session
  after 1.5 x keepalive of silence (which would redeliver the whole window and lose QoS 0).

It overrides private paho methods, so ``pyproject.toml`` pins paho-mqtt to the 2.1/2.2 line, and
a unit test compares ``decode_publish`` with paho's decoder on the same packets.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

from gateway.exceptions import GatewayError
from runtime.mqtt_thread import ReportingClient

__all__ = ["BufferedClient", "MalformedPublish", "PublishFields", "decode_publish"]

_READ_CHUNK = 65536
_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")
_PINGREQ = 0xC0
_PINGREQ_PACKET = bytes((_PINGREQ, 0))
_USER_PROPERTY = 0x26

# Fixed-size PUBLISH properties (identifier -> value length); strings are handled below.
_FIXED_PROPERTY = {0x01: 1, 0x02: 4, 0x23: 2}
_STRING_PROPERTY = frozenset({0x03, 0x08, 0x09})  # content type, response topic, correlation
_VARINT_PROPERTY = 0x0B  # subscription identifier


class MalformedPublish(GatewayError, MalformedPacket):
    """A PUBLISH that does not follow the MQTT v5 layout (paho's reader then drops the connection).

    Also a paho ``MalformedPacket``: that is the type paho's read loop catches to drop the connection.
    """


@dataclass(frozen=True, slots=True)
class PublishFields:
    """One decoded PUBLISH: the values the gateway needs, nothing of paho's message object."""

    topic: bytes
    payload: bytes
    mid: int
    qos: int
    retain: bool
    dup: bool
    user_properties: tuple[tuple[str, str], ...]


def _varint(packet: bytes | bytearray, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    for i in range(4):
        if pos + i >= len(packet):
            break
        byte = packet[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    msg = "malformed variable byte integer"
    raise MalformedPublish(msg)


def _string(packet: bytes | bytearray, pos: int, end: int) -> tuple[bytes, int]:
    if pos + 2 > end:
        msg = "property string length beyond the properties"
        raise MalformedPublish(msg)
    length = (packet[pos] << 8) | packet[pos + 1]
    stop = pos + 2 + length
    if stop > end:
        msg = "property string beyond the properties"
        raise MalformedPublish(msg)
    return bytes(packet[pos + 2 : stop]), stop


def _user_properties(packet: bytes | bytearray, pos: int, end: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    while pos < end:
        ident = packet[pos]
        pos += 1
        if ident == _USER_PROPERTY:
            key, pos = _string(packet, pos, end)
            value, pos = _string(packet, pos, end)
            try:
                found.append((key.decode(), value.decode()))
            except UnicodeDecodeError as exc:
                msg = "user property is not valid UTF-8"
                raise MalformedPublish(msg) from exc
        elif ident in _STRING_PROPERTY:
            _, pos = _string(packet, pos, end)
        elif ident in _FIXED_PROPERTY:
            pos += _FIXED_PROPERTY[ident]
        elif ident == _VARINT_PROPERTY:
            _, pos = _varint(packet, pos)
        else:
            msg = f"property {ident:#x} is not allowed in PUBLISH"
            raise MalformedPublish(msg)
    if pos != end:
        msg = "properties overrun their length"
        raise MalformedPublish(msg)
    return found


def decode_publish(header: int, packet: bytes | bytearray) -> PublishFields:
    """Decode an MQTT v5 PUBLISH (fixed-header byte and the bytes after the remaining length)."""
    qos = (header & 0x06) >> 1
    size = len(packet)
    if size < 2:
        msg = "PUBLISH shorter than its topic length"
        raise MalformedPublish(msg)
    pos = 2 + ((packet[0] << 8) | packet[1])
    if pos > size:
        msg = "topic beyond the packet"
        raise MalformedPublish(msg)
    topic = bytes(packet[2:pos])
    mid = 0
    if qos:
        if pos + 2 > size:
            msg = "packet id beyond the packet"
            raise MalformedPublish(msg)
        mid = (packet[pos] << 8) | packet[pos + 1]
        pos += 2
    props_len, pos = _varint(packet, pos)
    end = pos + props_len
    if end > size:
        msg = "properties beyond the packet"
        raise MalformedPublish(msg)
    users = _user_properties(packet, pos, end) if props_len else ()
    return PublishFields(
        topic=topic,
        payload=bytes(packet[end:]),
        mid=mid,
        qos=qos,
        retain=bool(header & 0x01),
        dup=bool(header & 0x08),
        user_properties=tuple(users),
    )


class BufferedClient(ReportingClient):
    """paho ``Client`` with buffered reads, a lean v5 PUBLISH path and batched PUBACKs.

    The end of its network thread is reported to ``on_thread_exit`` (runtime.mqtt_thread).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._rbuf_sock: object = None
        # Called on paho's thread for each QoS 0/1 PUBLISH of MQTT v5 (instead of on_message).
        self.on_publish_fields: Callable[[PublishFields], None] | None = None

    # paho reads 1 byte, then the length byte by byte, then the body: serve those from a buffer.
    def _sock_recv(self, bufsize: int) -> bytes:
        buf = self._rbuf
        if self._sock is not self._rbuf_sock:  # a new connection: bytes of the old one are void
            buf.clear()
            self._rbuf_sock = self._sock
        if not buf:
            data: bytes = super()._sock_recv(max(bufsize, _READ_CHUNK))
            if len(data) <= bufsize:
                return data
            buf += data
        out = bytes(buf[:bufsize])
        del buf[:bufsize]
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read packets until the socket and the read buffer are both exhausted."""
        rc: MQTTErrorCode = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rbuf and self._sock is not None:
            rc = super().loop_read(1)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        handler = self.on_publish_fields
        if handler is None or self._protocol != mqtt.MQTTv5 or (header & 0x06) == 0x04:
            result: MQTTErrorCode = super()._handle_publish()
            return result
        fields = decode_publish(header, self._in_packet["packet"])
        handler(fields)
        if fields.qos and not self._manual_ack:
            result = self._send_puback(fields.mid)
            return result
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def queue_pubacks(self, mids: Iterable[int]) -> None:
        """Queue the PUBACKs of ``mids`` (in order) as one packet write; any thread."""
        data = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids])
        if data:
            self._packet_queue(_PUBACK, data, 0, 0)

    def keep_alive(self) -> bool:
        """Flush queued packets and ping when due; only on paho's thread, inside a callback.

        Bypasses paho's ``_send_pingreq`` on purpose: that one arms paho's PINGRESP timer, and the
        PINGRESP cannot be read while this thread is held, so paho would drop the connection
        itself. The reply is read later and is harmless. Returns True when a PINGREQ was queued.
        """
        if self._sock is None or not self._keepalive:
            return False
        pinged = False
        if mqtt.time_func() - self._last_msg_out >= self._keepalive / 2:
            self._packet_queue(_PINGREQ, _PINGREQ_PACKET, 0, 0)
            pinged = True
        self.loop_write()
        return pinged
