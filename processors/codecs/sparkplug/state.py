"""Sparkplug B host-application state machine: aliases, seq, bdSeq, staleness and rebirth requests.

Per edge node ``<group>/<edge>`` the host keeps the alias table of the last NBIRTH and, per device,
of the last DBIRTH; the last ``seq`` (0-255, wrapping) across all of the node's messages; and the
``bdSeq`` of the current session. Rules:

* NBIRTH: accepted with any seq (the specification is inconsistent about 0); replaces the node's
  alias table, clears staleness, restarts seq tracking; devices born before it become stale.
* DBIRTH: replaces the device's alias table (alias reuse after a rebirth is therefore safe).
* NDATA/DDATA/DBIRTH/DDEATH: seq must follow the last one; a gap marks the node and its devices
  stale and asks for a rebirth. A repeated seq is reported as ``duplicate``.
* A DATA message for a node or device without a known birth asks for a rebirth and is stale.
* NDEATH: only if its bdSeq matches the current NBIRTH (otherwise it is an old Will and ignored)
  the node and its devices go offline and stale. DDEATH marks the device offline and stale.
* Rebirth requests are rate-limited per node (``rebirth_interval_s``) so a burst of DATA without a
  birth yields one NCMD.

Not thread-safe: one host per normalizer partition consumer. The store is written on births,
deaths and staleness changes; ``seq`` is not persisted, so tracking restarts after a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processors.codecs.sparkplug.encode import (
    BD_SEQ_METRIC,
    rebirth_command_payload,
)
from processors.codecs.sparkplug.models import Metric, RebirthRequest, SeqStatus, SparkplugMessage
from processors.codecs.sparkplug.payload import DecodedPayload, PayloadError, decode_payload
from processors.codecs.sparkplug.store import BirthStore, DeviceSnapshot, NodeSnapshot
from processors.codecs.sparkplug.topic import SparkplugTopic, build_topic, parse_topic

__all__ = ["SparkplugHost"]

_SEQ_MOD = 256
_SEQ_TYPES = frozenset({"NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"})

Aliases = dict[int, tuple[str, int]]


@dataclass(slots=True)
class _Device:
    aliases: Aliases = field(default_factory=dict)
    birth_timestamp: int | None = None
    stale: bool = False
    online: bool = True


@dataclass(slots=True)
class _Node:
    group: str
    edge_node: str
    birth_known: bool = False
    bd_seq: int | None = None
    birth_timestamp: int | None = None
    stale: bool = True
    online: bool = False
    last_seq: int | None = None
    aliases: Aliases = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)
    rebirth_sent_at: float | None = None

    def mark_stale(self) -> None:
        self.stale = True
        for dev in self.devices.values():
            dev.stale = True


class SparkplugHost:
    """Stateful Sparkplug host logic applied to parsed payloads; see the module docstring."""

    def __init__(
        self,
        store: BirthStore | None = None,
        *,
        rebirth_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = rebirth_interval_s
        self._clock = clock
        self._nodes: dict[str, _Node] = {}
        if store is not None:
            for key, snap in store.load_all().items():
                self._nodes[key] = _from_snapshot(snap)

    def snapshot(self, node_key: str) -> NodeSnapshot | None:
        """Current persisted form of a node's state, or None if the node is unknown."""
        node = self._nodes.get(node_key)
        return _to_snapshot(node) if node is not None else None

    def restore_birth(self, topic: str, payload: bytes) -> None:
        """Rebuild a node's or device's aliases from a BIRTH replayed from the raw topic.

        Unlike live processing this does not touch seq tracking or staleness of other devices.
        Raises PayloadError or TopicError (FormatErrors) when the input is not a valid BIRTH.
        """
        parsed = parse_topic(topic)
        if parsed.message_type not in ("NBIRTH", "DBIRTH"):
            msg = f"not a BIRTH topic: {topic}"
            raise PayloadError(msg)
        decoded = decode_payload(payload)
        node = self._node(parsed)
        if parsed.device is None:
            node.aliases = _aliases(decoded.metrics)
            node.bd_seq = _bd_seq(decoded.metrics)
            node.birth_timestamp = decoded.timestamp
            node.birth_known, node.stale, node.online = True, False, True
        else:
            node.devices[parsed.device] = _Device(
                aliases=_aliases(decoded.metrics), birth_timestamp=decoded.timestamp
            )
        self._save(node)

    def process(self, topic: SparkplugTopic, raw: Any) -> SparkplugMessage:
        """Apply one message (``raw`` is a parsed protobuf Payload) and return the decoded result.

        Raises PayloadError (a FormatError) when the payload content is invalid.
        """
        mtype = topic.message_type
        node = self._node(topic)
        if mtype == "NBIRTH":
            return self._nbirth(topic, node, decode_payload(raw))
        if mtype == "NDEATH":
            return self._ndeath(topic, node, decode_payload(raw))
        device = node.devices.get(topic.device) if topic.device is not None else None
        if mtype == "DBIRTH":
            decoded = decode_payload(raw)
        else:
            table = node.aliases if topic.device is None else (device.aliases if device else {})
            decoded = decode_payload(raw, table.get)
        seq_status: SeqStatus = "untracked"
        rebirth: RebirthRequest | None = None
        if mtype in _SEQ_TYPES:
            seq_status = self._check_seq(node, decoded.seq)
            if seq_status == "gap":
                node.mark_stale()
                self._save(node)
                rebirth = self._rebirth(node, f"seq gap at {decoded.seq}")
        if mtype in _SEQ_TYPES and (not node.birth_known or not node.online):
            if not node.stale:
                node.mark_stale()
            rebirth = rebirth or self._rebirth(node, f"{mtype} without a current NBIRTH")
        birth_known = True
        if mtype == "DBIRTH":
            assert topic.device is not None  # noqa: S101 - D* topics always carry a device
            newer = _Device(aliases=_aliases(decoded.metrics), birth_timestamp=decoded.timestamp)
            newer.stale = node.stale
            node.devices[topic.device] = device = newer
            self._save(node)
        elif mtype == "DDATA" and device is None:
            birth_known = False
            rebirth = rebirth or self._rebirth(node, f"DDATA from {topic.device} without DBIRTH")
        elif mtype == "DDEATH" and device is not None:
            device.online, device.stale = False, True
            self._save(node)
        elif mtype == "NDATA":
            birth_known = node.birth_known
        if decoded.unresolved_aliases:
            birth_known = False
        stale = node.stale or (device.stale if device is not None else topic.device is not None)
        if mtype in ("NCMD", "DCMD"):
            stale = False
        return _message(
            topic,
            decoded,
            seq_status=seq_status,
            birth_known=birth_known,
            stale=stale,
            rebirth=rebirth,
        )

    # -- message types ---------------------------------------------------------------------------

    def _nbirth(
        self, topic: SparkplugTopic, node: _Node, decoded: DecodedPayload
    ) -> SparkplugMessage:
        node.aliases = _aliases(decoded.metrics)
        node.bd_seq = _bd_seq(decoded.metrics)
        node.birth_timestamp = decoded.timestamp
        node.birth_known, node.stale, node.online = True, False, True
        node.last_seq = decoded.seq % _SEQ_MOD if decoded.seq is not None else None
        node.rebirth_sent_at = None
        for dev in node.devices.values():
            # A DBIRTH may precede its NBIRTH after a broker restart; only older ones are stale.
            dev.stale = dev.birth_timestamp is None or (
                decoded.timestamp is not None and dev.birth_timestamp < decoded.timestamp
            )
        self._save(node)
        return _message(topic, decoded, seq_status="first", birth_known=True, stale=False)

    def _ndeath(
        self, topic: SparkplugTopic, node: _Node, decoded: DecodedPayload
    ) -> SparkplugMessage:
        bd_seq = _bd_seq(decoded.metrics)
        current = node.birth_known and (
            node.bd_seq is None or bd_seq is None or bd_seq == node.bd_seq
        )
        if not current:
            return _message(
                topic, decoded, birth_known=node.birth_known, stale=node.stale, ignored=True
            )
        node.online = False
        node.last_seq = None
        node.mark_stale()
        for dev in node.devices.values():
            dev.online = False
        self._save(node)
        return _message(topic, decoded, birth_known=True, stale=True)

    # -- helpers ---------------------------------------------------------------------------------

    def _node(self, topic: SparkplugTopic) -> _Node:
        node = self._nodes.get(topic.node_key)
        if node is None:
            node = _Node(group=topic.group, edge_node=topic.edge_node)
            self._nodes[topic.node_key] = node
        return node

    @staticmethod
    def _check_seq(node: _Node, seq: int | None) -> SeqStatus:
        if seq is None:
            return "untracked"
        if seq >= _SEQ_MOD:
            msg = f"seq {seq} outside 0-255"
            raise PayloadError(msg)
        last = node.last_seq
        if last is None:
            node.last_seq = seq
            return "first"
        if seq == last:
            return "duplicate"
        node.last_seq = seq
        return "ok" if seq == (last + 1) % _SEQ_MOD else "gap"

    def _rebirth(self, node: _Node, reason: str) -> RebirthRequest | None:
        now = self._clock()
        if node.rebirth_sent_at is not None and now - node.rebirth_sent_at < self._interval:
            return None
        node.rebirth_sent_at = now
        return RebirthRequest(
            group=node.group,
            edge_node=node.edge_node,
            topic=build_topic("NCMD", node.group, node.edge_node),
            payload=rebirth_command_payload(),
            reason=reason,
        )

    def _save(self, node: _Node) -> None:
        if self._store is not None and node.birth_known:
            self._store.save(_to_snapshot(node))


def _aliases(metrics: tuple[Metric, ...]) -> Aliases:
    return {m.alias: (m.name, m.datatype) for m in metrics if m.alias is not None and m.name}


def _bd_seq(metrics: tuple[Metric, ...]) -> int | None:
    for m in metrics:
        if m.name == BD_SEQ_METRIC and isinstance(m.value, int) and not isinstance(m.value, bool):
            return m.value
    return None


def _message(
    topic: SparkplugTopic,
    decoded: DecodedPayload,
    *,
    seq_status: SeqStatus = "untracked",
    birth_known: bool,
    stale: bool,
    ignored: bool = False,
    rebirth: RebirthRequest | None = None,
) -> SparkplugMessage:
    return SparkplugMessage.model_construct(
        topic=str(topic),
        message_type=topic.message_type,
        group=topic.group,
        edge_node=topic.edge_node,
        device=topic.device,
        host_id=None,
        timestamp=decoded.timestamp,
        seq=decoded.seq,
        uuid=decoded.uuid,
        body=decoded.body,
        metrics=decoded.metrics,
        bd_seq=_bd_seq(decoded.metrics) if topic.message_type in ("NBIRTH", "NDEATH") else None,
        state=None,
        seq_status=seq_status,
        birth_known=birth_known,
        stale=stale,
        ignored=ignored,
        unresolved_aliases=decoded.unresolved_aliases,
        rebirth=rebirth,
    )


def _to_snapshot(node: _Node) -> NodeSnapshot:
    return NodeSnapshot(
        group=node.group,
        edge_node=node.edge_node,
        bd_seq=node.bd_seq,
        birth_timestamp=node.birth_timestamp,
        birth_known=node.birth_known,
        stale=node.stale,
        online=node.online,
        aliases=dict(node.aliases),
        devices={
            name: DeviceSnapshot(
                aliases=dict(d.aliases),
                birth_timestamp=d.birth_timestamp,
                stale=d.stale,
                online=d.online,
            )
            for name, d in node.devices.items()
        },
    )


def _from_snapshot(snap: NodeSnapshot) -> _Node:
    return _Node(
        group=snap.group,
        edge_node=snap.edge_node,
        birth_known=snap.birth_known,
        bd_seq=snap.bd_seq,
        birth_timestamp=snap.birth_timestamp,
        stale=snap.stale,
        online=snap.online,
        aliases=dict(snap.aliases),
        devices={
            name: _Device(
                aliases=dict(d.aliases),
                birth_timestamp=d.birth_timestamp,
                stale=d.stale,
                online=d.online,
            )
            for name, d in snap.devices.items()
        },
    )
