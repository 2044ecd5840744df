"""Sparkplug B edge nodes: NBIRTH/DBIRTH with aliases, NDATA/DDATA by alias with seq, NDEATH Will.

Each edge node has its own MQTT connection (the Will is per connection) carrying its NDEATH with the
current ``bdSeq``; a disconnect fault drops it so the broker publishes the Will, then the node
reconnects with ``bdSeq + 1`` and is born again. A ``Node Control/Rebirth`` NCMD received during a
run (``request_rebirth``) makes the node publish NBIRTH (seq 0) and DBIRTHs before its next data.
Data messages report by exception: only metrics that changed beyond a deadband, by alias only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulators.encoders import sparkplug_encoder
from simulators.iiot.machines import DOUBLE, INT64, STRING, Machine, make_machine
from simulators.model import Control, Expect, SimItem, SimMessage, Will
from simulators.registry_csv import DeviceRow
from simulators.spec import FaultRoller, FleetSpec, family_rng, ticks

__all__ = ["IIOT_DATASET", "IiotFleet"]

PROVIDER = "jl_industry_dept"
IIOT_DATASET = "iiot_metric"
GROUP = "JilinPlant"
FUTURE_MS = 3 * 86_400_000
SKEW_MS = -90_000
_DEADBAND = 0.5


@dataclass
class _Node:
    group: str
    edge: str
    industrial_id: str
    devices: list[Machine]
    device_ids: dict[str, str]  # device name -> industrial id
    bd_seq: int = 0
    seq: int = -1
    aliases: dict[tuple[str, str], int] = field(
        default_factory=dict
    )  # (device or "", metric) -> alias
    last: dict[tuple[str, str], object] = field(default_factory=dict)
    turn: int = 0
    uptime_s: int = 0

    @property
    def node_id(self) -> str:
        return f"{self.group}/{self.edge}"

    @property
    def connection(self) -> str:
        return f"iiot:{self.node_id}"

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq


class IiotFleet:
    """Deterministic Sparkplug fleet (one edge node per ``devices``); yields items in time order."""

    family = "iiot"

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        self.qos = int(spec.options.get("sparkplug_qos", "0"))
        group = spec.options.get("sparkplug_group", GROUP)
        rng = family_rng(spec.seed, self.family)
        self.nodes: list[_Node] = []
        for k in range(spec.devices):
            edge = f"line-{k + 1:02d}"
            machines = [
                make_machine(
                    "press-01",
                    "press",
                    family_rng(spec.seed, self.family, f"{edge}p"),
                    spec.start_ms,
                ),
                make_machine(
                    "drive-01",
                    "drive",
                    family_rng(spec.seed, self.family, f"{edge}d"),
                    spec.start_ms,
                ),
            ]
            enterprise = 8866
            ids = {m.name: f"88.118.{enterprise}/{m.kind}.2024.{k + 1:04d}" for m in machines}
            self.nodes.append(
                _Node(
                    group,
                    edge,
                    f"88.118.{enterprise}/line.{k + 1:04d}",
                    machines,
                    ids,
                    bd_seq=rng.randrange(4),
                )
            )
        self._faults = FaultRoller(spec.faults, spec.seed, self.family)
        self._rebirth: set[str] = set()
        self._lock = threading.Lock()

    def registry(self) -> list[DeviceRow]:
        """Registry rows: each edge node (covering its devices) and each device with its identifier."""
        rows: list[DeviceRow] = []
        for node in self.nodes:
            rows.append(
                DeviceRow(
                    self.family,
                    node.node_id,
                    PROVIDER,
                    (IIOT_DATASET,),
                    "sparkplug_b",
                    industrial_id=node.industrial_id,
                    profile="sparkplug-node",
                )
            )
            for machine in node.devices:
                rows.append(
                    DeviceRow(
                        self.family,
                        f"{node.node_id}/{machine.name}",
                        PROVIDER,
                        (IIOT_DATASET,),
                        "sparkplug_b",
                        industrial_id=node.device_ids[machine.name],
                        profile="sparkplug-node",
                    )
                )
        return rows

    def request_rebirth(self, node_id: str) -> None:
        """Ask ``<group>/<edge>`` to publish its births again (thread-safe; from an NCMD)."""
        with self._lock:
            self._rebirth.add(node_id)

    def _take_rebirth(self, node_id: str) -> bool:
        with self._lock:
            if node_id in self._rebirth:
                self._rebirth.discard(node_id)
                return True
        return False

    # -- stream -----------------------------------------------------------------------------

    def messages(self) -> Iterator[SimItem]:
        """Connects, births, data, faults and final deaths, in time order."""
        enc = sparkplug_encoder()
        t0 = self.spec.start_ms
        for node in self.nodes:
            yield self._connect(enc, node, t0)
            yield from self._births(enc, node, t0)
        last_ms = t0
        for _index, t_ms, k in ticks(self.spec):
            last_ms = t_ms
            node = self.nodes[k]
            if self._take_rebirth(node.node_id):
                yield from self._births(enc, node, t_ms, fault="")
            if self._faults.roll("disconnect"):
                yield Control(
                    t_ms,
                    "disconnect",
                    node.connection,
                    will=self._will(enc, node, t_ms),
                    fault="disconnect",
                    device_id=node.node_id,
                    family=self.family,
                )
                node.bd_seq = (node.bd_seq + 1) % 256
                yield self._connect(enc, node, t_ms)
                yield from self._births(enc, node, t_ms)
            yield self._data(enc, node, t_ms)
        for node in self.nodes:
            payload = enc.death_payload(node.bd_seq, timestamp=last_ms)
            yield self._msg(node, last_ms, "NDEATH", payload, "", expect="none", qos=1)

    def _will(self, enc: Any, node: _Node, t_ms: int) -> Will:
        payload = enc.death_payload(node.bd_seq, timestamp=t_ms)
        return Will(f"spBv1.0/{node.group}/NDEATH/{node.edge}", payload, qos=1)

    def _connect(self, enc: Any, node: _Node, t_ms: int) -> Control:
        return Control(
            t_ms,
            "connect",
            node.connection,
            will=self._will(enc, node, t_ms),
            subscribe=f"spBv1.0/{node.group}/NCMD/{node.edge}",
            device_id=node.node_id,
            family=self.family,
        )

    def _msg(
        self,
        node: _Node,
        t_ms: int,
        kind: str,
        payload: bytes,
        device: str,
        *,
        expect: Expect = "data",
        fault: str = "",
        qos: int | None = None,
        topic_node: _Node | None = None,
        publish: bool = True,
    ) -> SimMessage:
        tn = topic_node or node
        topic = f"spBv1.0/{tn.group}/{kind}/{tn.edge}" + (f"/{device}" if device else "")
        return SimMessage(
            t_ms=t_ms,
            topic=topic,
            payload=payload,
            family=self.family,
            device_id=tn.node_id + (f"/{device}" if device else ""),
            kind=f"{kind}:sparkplug",
            qos=self.qos if qos is None else qos,
            expect=expect,
            datasets=(IIOT_DATASET,) if expect == "data" else (),
            connection=node.connection,
            fault=fault,
            publish=publish,
        )

    def _births(self, enc: Any, node: _Node, t_ms: int, fault: str = "") -> Iterator[SimMessage]:
        spec_cls = enc.MetricSpec
        node.seq = -1
        node.aliases.clear()
        node.last.clear()
        node_metrics = [
            ("Node/CPU", DOUBLE, 12.5),
            ("Node/Uptime", INT64, node.uptime_s),
            ("Properties/Firmware", STRING, "edge-3.2.1"),
        ]
        specs = [
            spec_cls(
                name=name,
                value=value,
                datatype=dt,
                alias=self._alias(node, "", name),
                timestamp=t_ms,
            )
            for name, dt, value in node_metrics
        ]
        payload = enc.birth_payload(specs, bd_seq=node.bd_seq, seq=node.next_seq(), timestamp=t_ms)
        yield self._msg(node, t_ms, "NBIRTH", payload, "", fault=fault)
        for machine in node.devices:
            machine.advance_to(t_ms)
            values = [
                *machine.metrics(),
                ("Properties/IndustrialId", STRING, node.device_ids[machine.name]),
            ]
            specs = []
            for name, dt, value in values:
                specs.append(
                    spec_cls(
                        name=name,
                        value=value,
                        datatype=dt,
                        alias=self._alias(node, machine.name, name),
                        timestamp=t_ms,
                    )
                )
                node.last[(machine.name, name)] = value
            payload = enc.birth_payload(specs, seq=node.next_seq(), timestamp=t_ms)
            yield self._msg(node, t_ms, "DBIRTH", payload, machine.name, fault=fault)

    @staticmethod
    def _alias(node: _Node, device: str, name: str) -> int:
        return node.aliases.setdefault((device, name), len(node.aliases) + 1)

    def _data(self, enc: Any, node: _Node, t_ms: int) -> SimMessage:
        spec_cls = enc.MetricSpec
        stamp = t_ms
        fault, expect = "", "data"
        if self._faults.roll("clock-skew"):
            fault, stamp = "clock-skew", t_ms + SKEW_MS
        elif self._faults.roll("future"):
            fault, stamp, expect = "future", t_ms + FUTURE_MS, "dlq"
        slot = node.turn % (len(node.devices) + 1)
        node.turn += 1
        if self._faults.roll("missing-birth"):
            ghost = f"ghost-{self._faults.choice(100):02d}"
            specs = [
                spec_cls(
                    alias=900 + self._faults.choice(50),
                    value=1.0,
                    datatype=DOUBLE,
                    timestamp=stamp,
                    include_datatype=False,
                )
            ]
            payload = enc.encode_payload(specs, timestamp=stamp, seq=node.next_seq())
            return self._msg(
                node, t_ms, "DDATA", payload, ghost, expect="dlq", fault="missing-birth"
            )
        if slot == len(node.devices):
            node.uptime_s = (t_ms - self.spec.start_ms) // 1000
            changed: list[tuple[str, int, object]] = [
                ("Node/CPU", DOUBLE, round(10 + 8 * self._faults_rng_value(node), 1)),
                ("Node/Uptime", INT64, node.uptime_s),
            ]
            device = ""
        else:
            machine = node.devices[slot]
            machine.advance_to(t_ms)
            device = machine.name
            changed = self._changed(node, machine)
        specs = [
            spec_cls(
                alias=node.aliases[(device, name)],
                value=value,
                datatype=dt,
                timestamp=stamp,
                include_datatype=False,
            )
            for name, dt, value in changed
        ]
        kind = "DDATA" if device else "NDATA"
        seq = node.next_seq()
        payload = enc.encode_payload(specs, timestamp=stamp, seq=seq)
        if self._faults.roll("seq-gap"):
            return self._msg(
                node, t_ms, kind, payload, device, expect="none", fault="seq-gap", publish=False
            )
        if self._faults.roll("unknown-device"):
            rogue = _Node("RogueGroup", f"rogue-{self._faults.choice(100):02d}", "", [], {})
            return self._msg(
                node,
                t_ms,
                kind,
                payload,
                device,
                expect="quarantine",
                fault="unknown-device",
                topic_node=rogue,
            )
        if len(self.nodes) > 1 and self._faults.roll("spoof"):
            other = self.nodes[(self.nodes.index(node) + 1) % len(self.nodes)]
            return self._msg(
                node, t_ms, kind, payload, device, expect="any", fault="spoof", topic_node=other
            )
        final: Expect = "dlq" if expect == "dlq" else "data"
        return self._msg(node, t_ms, kind, payload, device, expect=final, fault=fault)

    def _faults_rng_value(self, node: _Node) -> float:
        return (node.turn * 0.618) % 1.0

    @staticmethod
    def _changed(node: _Node, machine: Machine) -> list[tuple[str, int, object]]:
        out = []
        for name, dt, value in machine.metrics():
            old = node.last.get((machine.name, name))
            if dt in (DOUBLE, 9):
                moved = old is None or abs(float(value) - float(old)) >= _DEADBAND  # type: ignore[arg-type]
            else:
                moved = old != value
            if moved:
                out.append((name, dt, value))
                node.last[(machine.name, name)] = value
        if not out:  # report at least the lead metric so the stream keeps its pace
            name, dt, value = machine.metrics()[0]
            out.append((name, dt, value))
        return out
