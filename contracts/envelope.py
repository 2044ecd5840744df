"""Raw envelope: the device payload byte-exact plus gateway metadata, and its Kafka form.

Kafka form (topic ``<prefix>raw.<family>``):

* key: the device id as UTF-8 (per-device order within a partition);
* value: the MQTT payload, unchanged;
* headers (all UTF-8 text): ``sg.v`` format version ("1"), ``sg.topic`` MQTT topic, ``sg.family``,
  ``sg.device``, ``sg.driver`` (route sub-path such as a vendor driver suffix, may be empty),
  ``sg.gw`` gateway instance id, ``sg.rx_ns`` receive time in Unix nanoseconds, ``sg.qos``,
  ``sg.retain`` and ``sg.dup`` ("0"/"1"), ``sg.sha256`` hex SHA-256 of the value, ``sg.up`` MQTT v5
  user properties as a JSON list of ``[name, value]`` pairs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from contracts.dead_letter import ReasonCode
from contracts.errors import Rejected
from contracts.families import FAMILIES

__all__ = [
    "ENVELOPE_FORMAT_VERSION",
    "Envelope",
    "EnvelopeFormatError",
    "KafkaCoordinates",
    "RawRecord",
]

ENVELOPE_FORMAT_VERSION = "1"
_VERSION_BYTES = ENVELOPE_FORMAT_VERSION.encode()
_FLAG = (b"0", b"1")

Headers = Sequence[tuple[str, bytes]]


# One encoder for every message: json.dumps with options builds a new encoder per call (9 % of the
# gateway's samples when the fleet sends user properties); the output is the same bytes.
_PAIRS_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _json_pairs(pairs: tuple[tuple[str, str], ...]) -> bytes:
    return _PAIRS_ENCODER.encode([list(p) for p in pairs]).encode()


class EnvelopeFormatError(Rejected):
    """A Kafka record does not carry a valid sensegate envelope (reason ``envelope_invalid``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(ReasonCode.ENVELOPE_INVALID, detail)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One device message as received by the gateway; immutable, safe to share between tasks."""

    payload: bytes
    topic: str
    family: str
    device_id: str
    received_ns: int
    gateway_id: str
    qos: int = 1
    retain: bool = False
    dup: bool = False
    driver: str = ""
    user_properties: tuple[tuple[str, str], ...] = ()
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.payload).hexdigest())

    def kafka_key(self) -> bytes:
        """Kafka record key: the device id, so one device's messages keep their order.

        A family may key by a leading part of the id (its ``key_levels``): Sparkplug counts ``seq``
        per edge node across node and device messages, so every message of an edge node
        (``<group>/<edge>[/<device>]``) is keyed by ``<group>/<edge>`` to stay in one partition and
        in order; otherwise the host would see false sequence gaps. An unknown family keys by id.
        """
        family = FAMILIES.find(self.family)
        return (family.kafka_key(self.device_id) if family else self.device_id).encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers carrying the metadata (see module docstring)."""
        # Built directly as bytes: this runs once per message on the gateway's hot path.
        users = self.user_properties
        return [
            ("sg.v", _VERSION_BYTES),
            ("sg.topic", self.topic.encode()),
            ("sg.family", self.family.encode()),
            ("sg.device", self.device_id.encode()),
            ("sg.driver", self.driver.encode()),
            ("sg.gw", self.gateway_id.encode()),
            ("sg.rx_ns", str(self.received_ns).encode()),
            ("sg.qos", str(self.qos).encode()),
            ("sg.retain", _FLAG[self.retain]),
            ("sg.dup", _FLAG[self.dup]),
            ("sg.sha256", self.sha256.encode()),
            ("sg.up", _json_pairs(users) if users else b"[]"),
        ]

    def metadata(self) -> dict[str, object]:
        """Envelope metadata as a JSON-ready mapping (everything but the payload bytes)."""
        return {
            "topic": self.topic,
            "family": self.family,
            "device_id": self.device_id,
            "driver": self.driver,
            "gateway_id": self.gateway_id,
            "received_ns": self.received_ns,
            "qos": self.qos,
            "retain": self.retain,
            "dup": self.dup,
            "sha256": self.sha256,
            "user_properties": [list(p) for p in self.user_properties],
        }

    @classmethod
    def from_kafka(cls, value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> Envelope:
        """Rebuild an envelope from a raw-topic record; raises EnvelopeFormatError when malformed."""
        h = {k: v.decode("utf-8", "replace") for k, v in headers}
        if h.get("sg.v") != ENVELOPE_FORMAT_VERSION:
            msg = f"unsupported or missing envelope version {h.get('sg.v')!r}"
            raise EnvelopeFormatError(msg)
        try:
            props = tuple((str(a), str(b)) for a, b in json.loads(h.get("sg.up", "[]")))
            env = cls(
                payload=value or b"",
                topic=h["sg.topic"],
                family=h["sg.family"],
                device_id=h["sg.device"],
                driver=h.get("sg.driver", ""),
                gateway_id=h["sg.gw"],
                received_ns=int(h["sg.rx_ns"]),
                qos=int(h.get("sg.qos", "1")),
                retain=h.get("sg.retain") == "1",
                dup=h.get("sg.dup") == "1",
                user_properties=props,
            )
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"malformed envelope headers: {exc}"
            raise EnvelopeFormatError(msg) from exc
        declared = h.get("sg.sha256", "")
        if declared and declared != env.sha256:
            msg = f"payload SHA-256 {env.sha256} differs from header {declared}"
            raise EnvelopeFormatError(msg)
        return env


@dataclass(frozen=True, slots=True)
class KafkaCoordinates:
    """Where a record sits in Kafka: the raw coordinates recorded in provenance."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class RawRecord:
    """An envelope read back from a raw topic, with its Kafka coordinates.

    When the gateway sealed the payload (``sg.seal``), ``envelope.payload`` is the opened payload
    and ``sealed`` the value as Kafka holds it with its key id: dead letters keep that, not the payload.
    """

    envelope: Envelope
    coordinates: KafkaCoordinates
    sealed: tuple[bytes, str] | None = None
