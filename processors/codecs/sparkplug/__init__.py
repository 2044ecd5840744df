"""Sparkplug B 3.0 host-application codec: topics, payloads, alias/seq/bdSeq state, rebirth, encoding."""

from __future__ import annotations

from processors.codecs.sparkplug.codec import SparkplugCodec
from processors.codecs.sparkplug.datatypes import DataType
from processors.codecs.sparkplug.encode import (
    BD_SEQ_METRIC,
    REBIRTH_METRIC,
    MetricSpec,
    birth_payload,
    death_payload,
    encode_payload,
    rebirth_command_payload,
)
from processors.codecs.sparkplug.models import (
    DataSet,
    HostState,
    Metric,
    RebirthRequest,
    SparkplugMessage,
    Template,
)
from processors.codecs.sparkplug.payload import DecodedPayload, PayloadError, decode_payload
from processors.codecs.sparkplug.state import SparkplugHost
from processors.codecs.sparkplug.store import (
    BirthStore,
    JsonFileBirthStore,
    MemoryBirthStore,
    NodeSnapshot,
)
from processors.codecs.sparkplug.topic import SparkplugTopic, TopicError, build_topic, parse_topic

__all__ = [
    "BD_SEQ_METRIC",
    "REBIRTH_METRIC",
    "BirthStore",
    "DataSet",
    "DataType",
    "DecodedPayload",
    "HostState",
    "JsonFileBirthStore",
    "MemoryBirthStore",
    "Metric",
    "MetricSpec",
    "NodeSnapshot",
    "PayloadError",
    "RebirthRequest",
    "SparkplugCodec",
    "SparkplugHost",
    "SparkplugMessage",
    "SparkplugTopic",
    "Template",
    "TopicError",
    "birth_payload",
    "build_topic",
    "death_payload",
    "decode_payload",
    "encode_payload",
    "parse_topic",
    "rebirth_command_payload",
]
