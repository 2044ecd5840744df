"""Sparkplug B topic namespace: ``spBv1.0/<group>/<type>/<edge>[/<device>]`` and ``spBv1.0/STATE/<host>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from processors.codecs.base import FormatError

__all__ = [
    "NAMESPACE",
    "MessageType",
    "SparkplugTopic",
    "TopicError",
    "build_topic",
    "parse_topic",
]

NAMESPACE = "spBv1.0"

MessageType = Literal[
    "NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD", "STATE"
]

_NODE_TYPES = frozenset({"NBIRTH", "NDEATH", "NDATA", "NCMD"})
_DEVICE_TYPES = frozenset({"DBIRTH", "DDEATH", "DDATA", "DCMD"})
# MQTT wildcards and the separator are not allowed inside a Sparkplug id.
_FORBIDDEN = frozenset("+#/")


class TopicError(FormatError):
    """The topic is not a valid Sparkplug B topic."""


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """A parsed Sparkplug B topic; ``host_id`` is set for STATE only, ``device`` for D* types."""

    message_type: MessageType
    group: str = ""
    edge_node: str = ""
    device: str | None = None
    host_id: str | None = None

    @property
    def node_key(self) -> str:
        """``<group>/<edge>``: the edge node this message belongs to (empty for STATE)."""
        return f"{self.group}/{self.edge_node}" if self.group else ""

    def __str__(self) -> str:
        return build_topic(self.message_type, self.group, self.edge_node, self.device, self.host_id)


def parse_topic(topic: str) -> SparkplugTopic:
    """Parse a Sparkplug B topic; raises TopicError when it does not follow the namespace."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != NAMESPACE:
        msg = f"not a {NAMESPACE} topic: {topic!r}"
        raise TopicError(msg)
    if parts[1] == "STATE" and len(parts) == 3:
        _check_id(parts[2], topic)
        return SparkplugTopic(message_type="STATE", host_id=parts[2])
    if len(parts) not in (4, 5):
        msg = f"wrong number of levels in {topic!r}"
        raise TopicError(msg)
    group, mtype, edge = parts[1], parts[2], parts[3]
    for ident in parts[1:2] + parts[3:]:
        _check_id(ident, topic)
    if mtype in _NODE_TYPES and len(parts) == 4:
        return SparkplugTopic(message_type=mtype, group=group, edge_node=edge)  # type: ignore[arg-type]
    if mtype in _DEVICE_TYPES and len(parts) == 5:
        return SparkplugTopic(
            message_type=mtype,  # type: ignore[arg-type]
            group=group,
            edge_node=edge,
            device=parts[4],
        )
    msg = f"unknown message type or level count in {topic!r}"
    raise TopicError(msg)


def build_topic(
    message_type: str,
    group: str = "",
    edge_node: str = "",
    device: str | None = None,
    host_id: str | None = None,
) -> str:
    """Build the topic string for a message type (STATE needs ``host_id``, D* types a ``device``)."""
    if message_type == "STATE":
        return f"{NAMESPACE}/STATE/{host_id}"
    base = f"{NAMESPACE}/{group}/{message_type}/{edge_node}"
    return f"{base}/{device}" if device is not None else base


def _check_id(ident: str, topic: str) -> None:
    if not ident or _FORBIDDEN.intersection(ident):
        msg = f"empty or invalid id {ident!r} in {topic!r}"
        raise TopicError(msg)
