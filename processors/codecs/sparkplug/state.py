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
Several normalizers share one store (a directory): when a partition moves to another instance, that
instance must not judge the node by what it remembered from before (or by nothing at all), so
``reload`` re-reads the store on every partition assignment, and a node unknown in memory is read
from the store before it is treated as born-less (the chaos test's Sparkplug dead letters).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.codecs.sparkplug.encode import (
    BD_SEQ_METRIC,
    rebirth_command_payload,
)
from processors.codecs.sparkplug.models import (
    MetricColumns,
    RebirthRequest,
    SeqStatus,
    SparkplugMessage,
)
from processors.codecs.sparkplug.payload import DecodedPayload, PayloadError, decode_payload
from processors.codecs.sparkplug.store import BirthStore, DeviceSnapshot, NodeSnapshot
from processors.codecs.sparkplug.topic import SparkplugTopic, build_topic, parse_topic

__all__ = ["SparkplugHost"]

_SEQ_MOD = 256
_SEQ_TYPES = frozenset({"NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"})

Aliases = dict[int, tuple[str, int]]


@dataclass(slots=True)
class _Node:
    """A node's live state: ``snap`` is what the store keeps; the rest is never persisted."""

    snap: NodeSnapshot
    last_seq: int | None = None
    rebirth_sent_at: float | None = None

    def mark_stale(self) -> None:
        self.snap.stale = True
        for dev in self.snap.devices.values():
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
        self.reload()

    def reload(self) -> None:
        """Replace the in-memory state by the store's (after a partition assignment).

        Without a store the memory is the only state and is kept. Seq tracking restarts.
        """
        if self._store is None:
            return
        self._nodes = {key: _Node(snap) for key, snap in self._store.load_all().items()}

    def snapshot(self, node_key: str) -> NodeSnapshot | None:
        """A copy of a node's persisted state, or None if the node is unknown."""
        node = self._nodes.get(node_key)
        return node.snap.model_copy(deep=True) if node is not None else None

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
        snap = node.snap
        if parsed.device is None:
            snap.aliases = _aliases(decoded.columns)
            snap.bd_seq = _bd_seq(decoded.columns)
            snap.birth_timestamp = decoded.timestamp
            snap.birth_known, snap.stale, snap.online = True, False, True
        else:
            snap.devices[parsed.device] = _device(decoded)
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
        snap = node.snap
        device = snap.devices.get(topic.device) if topic.device is not None else None
        if mtype == "DBIRTH":
            decoded = decode_payload(raw)
        else:
            table = snap.aliases if topic.device is None else (device.aliases if device else {})
            decoded = decode_payload(raw, table.get)
        seq_status: SeqStatus = "untracked"
        rebirth: RebirthRequest | None = None
        if mtype in _SEQ_TYPES:
            seq_status = self._check_seq(node, decoded.seq)
            if seq_status == "gap":
                node.mark_stale()
                self._save(node)
                rebirth = self._rebirth(node, f"seq gap at {decoded.seq}")
        if mtype in _SEQ_TYPES and (not snap.birth_known or not snap.online):
            if not snap.stale:
                node.mark_stale()
            rebirth = rebirth or self._rebirth(node, f"{mtype} without a current NBIRTH")
        birth_known = True
        if mtype == "DBIRTH":
            assert topic.device is not None  # noqa: S101 - D* topics always carry a device
            newer = _device(decoded)
            newer.stale = snap.stale
            snap.devices[topic.device] = device = newer
            self._save(node)
        elif mtype == "DDATA" and device is None:
            birth_known = False
            rebirth = rebirth or self._rebirth(node, f"DDATA from {topic.device} without DBIRTH")
        elif mtype == "DDEATH" and device is not None:
            device.online, device.stale = False, True
            self._save(node)
        elif mtype == "NDATA":
            birth_known = snap.birth_known
        if decoded.unresolved_aliases:
            birth_known = False
        stale = snap.stale or (device.stale if device is not None else topic.device is not None)
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
        snap = node.snap
        snap.aliases = _aliases(decoded.columns)
        snap.bd_seq = _bd_seq(decoded.columns)
        snap.birth_timestamp = decoded.timestamp
        snap.birth_known, snap.stale, snap.online = True, False, True
        node.last_seq = decoded.seq % _SEQ_MOD if decoded.seq is not None else None
        node.rebirth_sent_at = None
        for dev in snap.devices.values():
            # A DBIRTH may precede its NBIRTH after a broker restart; only older ones are stale.
            dev.stale = dev.birth_timestamp is None or (
                decoded.timestamp is not None and dev.birth_timestamp < decoded.timestamp
            )
        self._save(node)
        return _message(topic, decoded, seq_status="first", birth_known=True, stale=False)

    def _ndeath(
        self, topic: SparkplugTopic, node: _Node, decoded: DecodedPayload
    ) -> SparkplugMessage:
        snap = node.snap
        bd_seq = _bd_seq(decoded.columns)
        current = snap.birth_known and (
            snap.bd_seq is None or bd_seq is None or bd_seq == snap.bd_seq
        )
        if not current:
            return _message(
                topic, decoded, birth_known=snap.birth_known, stale=snap.stale, ignored=True
            )
        snap.online = False
        node.last_seq = None
        node.mark_stale()
        for dev in snap.devices.values():
            dev.online = False
        self._save(node)
        return _message(topic, decoded, birth_known=True, stale=True)

    # -- helpers ---------------------------------------------------------------------------------

    def _node(self, topic: SparkplugTopic) -> _Node:
        node = self._nodes.get(topic.node_key)
        if (node is None or not node.snap.birth_known) and self._store is not None:
            # another instance may have processed this node's birth (a moved partition)
            stored = self._store.load(topic.node_key)
            if stored is not None:
                node = self._nodes[topic.node_key] = _Node(stored)
        if node is None:
            # A node first seen without its birth: unknown aliases, offline, stale until NBIRTH.
            snap = NodeSnapshot(
                group=topic.group, edge_node=topic.edge_node,
                birth_known=False, stale=True, online=False,
            )  # fmt: skip
            node = self._nodes[topic.node_key] = _Node(snap)
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
        group, edge_node = node.snap.group, node.snap.edge_node
        return RebirthRequest(
            group=group,
            edge_node=edge_node,
            topic=build_topic("NCMD", group, edge_node),
            payload=rebirth_command_payload(),
            reason=reason,
        )

    def _save(self, node: _Node) -> None:
        if self._store is not None and node.snap.birth_known:
            self._store.save(node.snap)


def _aliases(cols: MetricColumns) -> Aliases:
    return {
        alias: (name, datatype)
        for alias, name, datatype in zip(cols.aliases, cols.names, cols.datatypes, strict=True)
        if alias is not None and name
    }


def _device(decoded: DecodedPayload) -> DeviceSnapshot:
    # model_construct: the aliases are built typed here, validating them again would only cost.
    return DeviceSnapshot.model_construct(
        aliases=_aliases(decoded.columns), birth_timestamp=decoded.timestamp
    )


def _bd_seq(cols: MetricColumns) -> int | None:
    for name, value in zip(cols.names, cols.values, strict=True):
        if name == BD_SEQ_METRIC and isinstance(value, int) and not isinstance(value, bool):
            return value
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
        bd_seq=_bd_seq(decoded.columns) if topic.message_type in ("NBIRTH", "NDEATH") else None,
        state=None,
        seq_status=seq_status,
        birth_known=birth_known,
        stale=stale,
        ignored=ignored,
        unresolved_aliases=decoded.unresolved_aliases,
        rebirth=rebirth,
    ).with_columns(decoded.columns)
