"""RSU fleet: one roadside unit per intersection, publishing MAP, SPAT, RSM, relayed BSM and RSI.

Each RSU speaks one encoding, chosen per device like real integrations: UPER behind the vendor
framing header (``framed``), bare UPER (``uper``) or the JER JSON rendering (``jer``). Topics follow
the OpenV2X layout ``V2X/RSU/<rsuId>/<MSG>/UP[/<driver>]``. Per RSU the messages rotate through a
fixed pattern (MAP first, then SPAT/RSM/BSM triples, an RSI), so the offered rate is exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulators.encoders import v2x_codec
from simulators.model import Expect, SimMessage
from simulators.registry_csv import DeviceRow
from simulators.spec import FaultRoller, FleetSpec, family_rng, ticks
from simulators.v2x import messages
from simulators.v2x.signals import SignalPlan, default_plan
from simulators.v2x.world import ROAD_HALF_LEN_M, STOP_LINE_M, Intersection, World, build_approaches

__all__ = ["ENCODINGS", "V2X_DATASETS", "V2xFleet"]

PROVIDER = "jl_traffic_police"
V2X_DATASETS: dict[str, str] = {
    "MAP": "v2x_intersection",
    "SPAT": "v2x_signal_phase",
    "RSM": "v2x_participant",
    "BSM": "v2x_participant",
    "RSI": "v2x_road_event",
}
ENCODINGS = ("framed", "uper", "jer")
# RSU model -> its device profile (profiles/rsu-*.yaml)
PROFILES = {"framed": "rsu-uper-framed", "uper": "rsu-uper", "jer": "rsu-json"}
CODEC_NAMES = {"framed": "v2x_uper", "uper": "v2x_uper", "jer": "v2x_json"}
_PATTERN = ("MAP", *(("SPAT", "RSM", "BSM") * 6), "RSI")
_BASE_LAT, _BASE_LON = 43.8812345, 125.3154321  # Changchun
SKEW_MS = -90_000
FUTURE_MS = 3 * 86_400_000


@dataclass
class _Rsu:
    rsu_id: str
    encoding: str
    intersection: Intersection
    world: World
    counters: dict[str, int] = field(default_factory=dict)
    bsm_turn: int = 0
    events: int = 0

    def next_cnt(self, kind: str) -> int:
        value = self.counters.get(kind, -1) + 1
        self.counters[kind] = value % 128
        return value % 128


class V2xFleet:
    """Deterministic RSU fleet; ``messages()`` yields the run, ``registry()`` the devices."""

    family = "v2x"

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        rng = family_rng(spec.seed, self.family)
        self.edition = spec.options.get("v2x_edition", "csae53-2019")
        self.driver = spec.options.get("v2x_driver", "")
        forced = spec.options.get("v2x_encoding", "mixed")
        self.rsus: list[_Rsu] = []
        for k in range(spec.devices):
            plan: SignalPlan = default_plan(offset_s=rng.uniform(0, 97))
            ix = Intersection(
                node_id=100 + k,
                region=220,
                name=f"Sim intersection {k + 1}",
                lat=_BASE_LAT + (k // 10) * 0.008,
                lon=_BASE_LON + (k % 10) * 0.011,
                elevation_m=215.0,
                plan=plan,
                approaches=build_approaches(),
            )
            world = World(ix, family_rng(spec.seed, self.family, f"world{k}"), spec.start_ms)
            encoding = ENCODINGS[k % 3] if forced == "mixed" else forced
            self.rsus.append(_Rsu(f"RSU{k + 1:05d}", encoding, ix, world))
        self._faults = FaultRoller(spec.faults, spec.seed, self.family)

    def registry(self) -> list[DeviceRow]:
        """Registry rows of every RSU."""
        return [
            DeviceRow(
                family=self.family,
                device_id=r.rsu_id,
                provider=PROVIDER,
                datasets=tuple(sorted(set(V2X_DATASETS.values()))),
                codec=CODEC_NAMES[r.encoding],
                v2x_edition=self.edition,
                v2x_framing=r.encoding == "framed",
                lat=r.intersection.lat,
                lon=r.intersection.lon,
                profile=PROFILES[r.encoding],
            )
            for r in self.rsus
        ]

    def messages(self) -> Iterator[SimMessage]:
        """The run's messages in time order."""
        codec = v2x_codec()
        for _index, t_ms, k in ticks(self.spec):
            rsu = self.rsus[k]
            rsu.world.advance_to(t_ms)
            kind = _PATTERN[rsu.events % len(_PATTERN)]
            rsu.events += 1
            yield self._message(codec, rsu, kind, t_ms)

    # -- one message -----------------------------------------------------------------------

    def _message(self, codec: Any, rsu: _Rsu, kind: str, t_ms: int) -> SimMessage:
        fault = ""
        expect: Expect = "data"
        device_id = rsu.rsu_id
        time_ms = t_ms
        if self._faults.roll("clock-skew"):
            fault, time_ms = "clock-skew", t_ms + SKEW_MS
        elif self._faults.roll("future"):
            fault, time_ms, expect = "future", t_ms + FUTURE_MS, "dlq"
        publish_id = device_id
        spoofed = False
        if self._faults.roll("unknown-device"):
            fault, expect = "unknown-device", "quarantine"
            device_id = publish_id = f"RSX{self._faults.choice(99999):05d}"
        elif len(self.rsus) > 1 and self._faults.roll("spoof"):
            # the payload names the real RSU; the topic claims another one
            other = self.rsus[(self.rsus.index(rsu) + 1) % len(self.rsus)]
            publish_id, fault, spoofed = other.rsu_id, "spoof", True
        value, kind = self._frame(rsu, kind, time_ms, device_id)
        if spoofed:
            detectable = rsu.encoding == "framed" or kind in ("RSM", "RSI")
            expect = "dlq" if detectable else "any"
        payload = self._encode(codec, value, rsu.encoding, device_id, time_ms)
        topic = f"V2X/RSU/{publish_id}/{kind}/UP" + (f"/{self.driver}" if self.driver else "")
        return SimMessage(
            t_ms=t_ms,
            topic=topic,
            payload=payload,
            family=self.family,
            device_id=publish_id,
            kind=f"{kind}:{rsu.encoding}",
            qos=int(self.spec.options.get("qos", "1")),
            expect=expect,
            datasets=(V2X_DATASETS[kind],) if expect == "data" else (),
            fault=fault,
        )

    def _frame(
        self, rsu: _Rsu, kind: str, t_ms: int, payload_id: str
    ) -> tuple[dict[str, Any], str]:
        world, ix = rsu.world, rsu.intersection
        raw_id = payload_id.encode("ascii")[:8].ljust(8, b"\0")
        if kind == "BSM":
            equipped = [a for a in world.equipped() if abs(a.x) + abs(a.y) < 2 * ROAD_HALF_LEN_M]
            if equipped:
                agent = equipped[rsu.bsm_turn % len(equipped)]
                rsu.bsm_turn += 1
                agent.msg_cnt = (agent.msg_cnt + 1) % 128
                return messages.bsm_frame(world, agent, agent.msg_cnt, t_ms), "BSM"
            kind = "RSM"
        if kind == "RSM":
            rsm = messages.rsm_frame(world, raw_id, rsu.next_cnt("RSM"), t_ms)
            if rsm is not None:
                return rsm, "RSM"
            kind = "SPAT"
        if kind == "MAP":
            return messages.map_frame(ix, rsu.next_cnt("MAP"), t_ms), "MAP"
        if kind == "RSI":
            queue = self._queue_length(world)
            rsu.counters["events"] = rsu.counters.get("events", 0) + 1
            frame = messages.rsi_frame(
                ix,
                raw_id,
                rsu.next_cnt("RSI"),
                t_ms,
                event_index=rsu.counters["events"],
                queue_m=queue,
            )
            return frame, "RSI"
        return messages.spat_frame(ix, ix.plan, rsu.next_cnt("SPAT"), t_ms), "SPAT"

    @staticmethod
    def _queue_length(world: World) -> float:
        """Longest standing queue behind a stop line, metres."""
        stop_s = ROAD_HALF_LEN_M - STOP_LINE_M
        waiting = [
            stop_s - a.s
            for a in world.agents
            if a.lane is not None and a.speed < 0.5 and a.s < stop_s
        ]
        return max(waiting, default=0.0)

    def _encode(
        self, codec: Any, value: dict[str, Any], encoding: str, device_id: str, t_ms: int
    ) -> bytes:
        if encoding == "jer":
            document = codec.frame_to_jer(value, self.edition)
            return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        body: bytes = codec.encode_frame(value, self.edition)
        if encoding == "framed":
            framed: bytes = codec.build_vendor_header(device_id, t_ms, body)
            return framed
        return body
