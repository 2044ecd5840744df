"""The Sparkplug B codec: envelope topic + protobuf bytes in, ``SparkplugMessage`` or CodecError out."""

from __future__ import annotations

import logging

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope
from processors.codecs.base import Codec, CodecError, FormatError
from processors.codecs.sparkplug.models import HostState, SparkplugMessage
from processors.codecs.sparkplug.payload import parse_protobuf
from processors.codecs.sparkplug.state import SparkplugHost
from processors.codecs.sparkplug.store import BirthStore
from processors.codecs.sparkplug.topic import SparkplugTopic, TopicError, parse_topic
from processors.codecs.strictjson import StrictJsonError, loads_strict

__all__ = ["DEFAULT_MAX_PAYLOAD", "SparkplugCodec"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAYLOAD = 1 << 20
_MAX_STATE_BYTES = 4096


class SparkplugCodec(Codec[SparkplugMessage]):
    """Decodes Sparkplug B 3.0 messages as a host application (see ``state.SparkplugHost``).

    Stateful: keep one instance per consumer and feed it messages in partition order. ``decode``
    raises only CodecError; a returned message may carry a ``rebirth`` action to publish.
    """

    name = "sparkplug_b"
    version = "3.0"

    def __init__(
        self,
        store: BirthStore | None = None,
        *,
        host: SparkplugHost | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        rebirth_interval_s: float = 5.0,
    ) -> None:
        self.host = (
            host
            if host is not None
            else SparkplugHost(store, rebirth_interval_s=rebirth_interval_s)
        )
        self.max_payload_bytes = max_payload_bytes

    def reload(self) -> None:
        """Re-read the host state from its store (a partition was assigned; see ``SparkplugHost``)."""
        self.host.reload()

    def decode(self, payload: bytes, envelope: Envelope) -> SparkplugMessage:
        """Decode one message whose MQTT topic is ``envelope.topic``; raise only CodecError."""
        try:
            topic = parse_topic(envelope.topic)
        except TopicError as exc:
            raise CodecError(ReasonCode.UNSUPPORTED_MESSAGE, str(exc)) from exc
        if len(payload) > self.max_payload_bytes:
            detail = f"{len(payload)} bytes exceeds {self.max_payload_bytes}"
            raise CodecError(ReasonCode.PAYLOAD_TOO_LARGE, detail)
        if topic.message_type == "STATE":
            return _state_message(topic, payload)
        try:
            return self.host.process(topic, parse_protobuf(payload))
        except (FormatError, ValueError, TypeError, OverflowError) as exc:
            raise CodecError(ReasonCode.DECODE_ERROR, str(exc)) from exc
        except RecursionError as exc:
            raise CodecError(ReasonCode.DECODE_ERROR, "payload nested too deeply") from exc
        except Exception as exc:
            # Last line of defence of the codec contract: log the unexpected failure as a bug.
            logger.exception("unexpected Sparkplug decoding failure on %s", envelope.topic)
            raise CodecError(ReasonCode.DECODE_ERROR, f"unexpected: {exc!r}") from exc


def _state_message(topic: SparkplugTopic, payload: bytes) -> SparkplugMessage:
    if len(payload) > _MAX_STATE_BYTES:
        detail = f"STATE payload of {len(payload)} bytes"
        raise CodecError(ReasonCode.PAYLOAD_TOO_LARGE, detail)
    try:
        doc = loads_strict(payload)
    except StrictJsonError as exc:
        raise CodecError(exc.reason, f"STATE: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise CodecError(ReasonCode.DECODE_ERROR, f"STATE is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CodecError(ReasonCode.SCHEMA_INVALID, "STATE must be a JSON object")
    online, ts = doc.get("online"), doc.get("timestamp")
    if not isinstance(online, bool) or not isinstance(ts, int) or isinstance(ts, bool):
        raise CodecError(ReasonCode.SCHEMA_INVALID, "STATE needs boolean online and int timestamp")
    return SparkplugMessage(
        topic=str(topic),
        message_type="STATE",
        host_id=topic.host_id,
        timestamp=ts,
        state=HostState(online=online, timestamp=ts),
    )
