"""A four-arm signalized intersection with vehicles, cyclists and pedestrians moving in it.

Coordinates are local metres (x east, y north) around the intersection centre; ``to_latlon`` maps
them to WGS-84 with an equirectangular approximation (good to centimetres within a few hundred
metres). Vehicles follow their lane with the Intelligent Driver Model (bounded acceleration and
braking, a safe gap to the leader, a stop at the line on red or on a yellow they can stop for).
Pedestrians cross at the crosswalks when the parallel through phase is green. The world advances
in fixed 0.1 s steps of simulated time, so a given seed always yields the same trajectories.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulators.v2x.signals import SignalPlan

__all__ = ["STEP_S", "Agent", "Approach", "Intersection", "World"]

STEP_S = 0.1
ROAD_HALF_LEN_M = 200.0
STOP_LINE_M = 15.0  # distance of the stop line from the centre
LANE_W_M = 3.5
DETECTION_RADIUS_M = 150.0
M_PER_DEG_LAT = 111_320.0

# approach name -> (unit vector of travel, unit vector to the right of travel, through phase id)
_APPROACHES: dict[str, tuple[tuple[float, float], tuple[float, float], int]] = {
    "north": ((0.0, -1.0), (-1.0, 0.0), 1),  # comes from the north, drives south
    "south": ((0.0, 1.0), (1.0, 0.0), 1),
    "east": ((-1.0, 0.0), (0.0, 1.0), 3),
    "west": ((1.0, 0.0), (0.0, -1.0), 3),
}


@dataclass(frozen=True, slots=True)
class Approach:
    """One inbound lane: where it starts, its direction, lateral offset and controlling phase."""

    name: str
    lane_no: int
    direction: tuple[float, float]
    offset: tuple[float, float]
    phase_id: int
    kind: str  # "motor" or "non_motor"

    def point(self, s: float) -> tuple[float, float]:
        """Position at distance ``s`` along the lane (0 = entry, 2*ROAD_HALF_LEN_M = exit)."""
        dx, dy = self.direction
        ox, oy = self.offset
        return (-dx * ROAD_HALF_LEN_M + dx * s + ox, -dy * ROAD_HALF_LEN_M + dy * s + oy)

    @property
    def heading_deg(self) -> float:
        """Heading of travel, degrees clockwise from north."""
        dx, dy = self.direction
        return math.degrees(math.atan2(dx, dy)) % 360.0


@dataclass(slots=True)
class Agent:
    """A moving participant; mutable, owned by one World."""

    ptc_id: int
    ptc_type: str  # "motor", "non-motor", "pedestrian"
    lane: Approach | None
    s: float
    speed: float
    v0: float
    length_m: float
    width_m: float
    height_m: float
    vehicle_id: bytes | None  # 8-byte temporary id when the vehicle itself speaks V2X (sends BSM)
    source: str
    accel: float = 0.0
    x: float = 0.0
    y: float = 0.0
    heading: float = 0.0
    # pedestrian crossing: start point, unit direction, length, waiting flag
    walk: tuple[float, float, float, float, float] | None = None
    waiting: bool = False
    msg_cnt: int = 0


@dataclass
class Intersection:
    """Static description of one intersection: id, reference position and signal plan."""

    node_id: int
    region: int
    name: str
    lat: float
    lon: float
    elevation_m: float
    plan: SignalPlan
    approaches: tuple[Approach, ...] = field(default_factory=tuple)

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        """Local metres to (lat, lon) degrees."""
        lat = self.lat + y / M_PER_DEG_LAT
        lon = self.lon + x / (M_PER_DEG_LAT * math.cos(math.radians(self.lat)))
        return lat, lon


def build_approaches() -> tuple[Approach, ...]:
    """Two motor lanes and one cycle lane per arm, on the right-hand side of travel."""
    lanes: list[Approach] = []
    for name, (direction, right, phase) in _APPROACHES.items():
        for lane_no, (offset, kind) in enumerate(
            ((LANE_W_M * 0.5, "motor"), (LANE_W_M * 1.5, "motor"), (LANE_W_M * 2.2, "non_motor")),
            start=1,
        ):
            lanes.append(
                Approach(
                    name,
                    lane_no,
                    direction,
                    (right[0] * offset, right[1] * offset),
                    phase,
                    kind,
                )
            )
    return tuple(lanes)


class World:
    """Agents of one intersection, advanced in fixed steps of simulated time (not thread-safe)."""

    def __init__(self, intersection: Intersection, rng: random.Random, t_ms: int) -> None:
        self.intersection = intersection
        self.rng = rng
        self.t_ms = t_ms
        self.agents: list[Agent] = []
        self._next_ptc = 1
        self._next_arrival: dict[tuple[str, int], float] = {}
        for lane in intersection.approaches:
            self._next_arrival[(lane.name, lane.lane_no)] = t_ms / 1000 + rng.expovariate(
                1 / self._headway(lane)
            )
        self._next_ped = t_ms / 1000 + rng.expovariate(1 / 12.0)

    @staticmethod
    def _headway(lane: Approach) -> float:
        return 7.0 if lane.kind == "motor" else 25.0

    def advance_to(self, t_ms: int) -> None:
        """Step the world until its clock reaches ``t_ms`` (never backwards)."""
        step_ms = int(STEP_S * 1000)
        while self.t_ms + step_ms <= t_ms:
            self.t_ms += step_ms
            self._step(STEP_S)

    # -- simulation step --------------------------------------------------------------------

    def _step(self, dt: float) -> None:
        now = self.t_ms / 1000
        self._spawn(now)
        for lane in self.intersection.approaches:
            on_lane = sorted(
                (a for a in self.agents if a.lane is lane), key=lambda a: a.s, reverse=True
            )
            leader: Agent | None = None
            for agent in on_lane:
                self._drive(agent, leader, now, dt)
                leader = agent
        for agent in self.agents:
            if agent.ptc_type == "pedestrian":
                self._walk(agent, now, dt)
        self.agents = [a for a in self.agents if not self._gone(a)]

    def _spawn(self, now: float) -> None:
        for lane in self.intersection.approaches:
            key = (lane.name, lane.lane_no)
            if now < self._next_arrival[key]:
                continue
            self._next_arrival[key] = now + 1.5 + self.rng.expovariate(1 / self._headway(lane))
            last = min((a.s for a in self.agents if a.lane is lane), default=math.inf)
            if last < 12.0:
                continue  # queue reaches the lane entry: the arrival is held back
            self.agents.append(self._new_vehicle(lane))
        if now >= self._next_ped:
            self._next_ped = now + self.rng.expovariate(1 / 12.0)
            self.agents.append(self._new_pedestrian())

    def _new_id(self) -> int:
        ptc = self._next_ptc
        self._next_ptc = self._next_ptc % 65535 + 1
        return ptc

    def _new_vehicle(self, lane: Approach) -> Agent:
        rng = self.rng
        if lane.kind == "non_motor":
            return Agent(
                self._new_id(),
                "non-motor",
                lane,
                0.0,
                4.0,
                rng.uniform(3.5, 5.5),
                1.8,
                0.6,
                1.7,
                None,
                rng.choice(("video", "lidar")),
            )
        bus = rng.random() < 0.08
        equipped = rng.random() < 0.35
        v0 = rng.uniform(11.0, 15.0)
        return Agent(
            self._new_id(),
            "motor",
            lane,
            0.0,
            v0 * 0.8,
            v0,
            rng.uniform(11.0, 12.5) if bus else rng.uniform(4.2, 5.0),
            2.5 if bus else rng.uniform(1.75, 1.9),
            3.2 if bus else rng.uniform(1.4, 1.7),
            rng.randbytes(8) if equipped else None,
            "v2x" if equipped else rng.choice(("video", "microwave_radar", "lidar", "integrated")),
        )

    def _new_pedestrian(self) -> Agent:
        rng = self.rng
        # crosswalk across one arm, just outside the stop line; start on either kerb
        arm = rng.choice(("north", "south", "east", "west"))
        along = STOP_LINE_M - 3.0
        half_w = LANE_W_M * 2.6
        side = rng.choice((-1.0, 1.0))
        if arm in ("north", "south"):
            y = along if arm == "north" else -along
            x0, y0, ux, uy = -side * half_w, y, side, 0.0
        else:
            x = along if arm == "east" else -along
            x0, y0, ux, uy = x, -side * half_w, 0.0, side
        agent = Agent(
            self._new_id(),
            "pedestrian",
            None,
            0.0,
            0.0,
            rng.uniform(1.1, 1.6),
            0.5,
            0.5,
            1.7,
            None,
            "video",
        )
        agent.walk = (x0, y0, ux, uy, 2 * half_w)
        agent.x, agent.y = x0, y0
        agent.heading = math.degrees(math.atan2(ux, uy)) % 360.0
        agent.waiting = True
        return agent

    def _drive(self, agent: Agent, leader: Agent | None, now: float, dt: float) -> None:
        lane = agent.lane
        assert lane is not None  # noqa: S101 - vehicles always have a lane
        a_max, b_comf, s0, headway = (1.5, 3.0, 2.0, 1.4)
        gap = math.inf
        dv = 0.0
        if leader is not None:
            gap = leader.s - leader.length_m - agent.s
            dv = agent.speed - leader.speed
        stop_s = ROAD_HALF_LEN_M - STOP_LINE_M
        if agent.s < stop_s:
            timing = self.intersection.plan.timing(lane.phase_id, now)
            light = timing.current_light
            to_line = stop_s - agent.s
            must_stop = light == "red" or (
                light == "yellow" and to_line > agent.speed**2 / (2 * 4.0) + 1.0
            )
            if must_stop and to_line < gap:
                gap, dv = to_line, agent.speed
        s_star = s0 + max(
            0.0, agent.speed * headway + agent.speed * dv / (2 * math.sqrt(a_max * b_comf))
        )
        free = 1 - (agent.speed / agent.v0) ** 4
        interaction = (s_star / max(gap, 0.1)) ** 2 if math.isfinite(gap) else 0.0
        accel = max(-8.0, min(a_max, a_max * (free - interaction)))
        speed = max(0.0, agent.speed + accel * dt)
        agent.accel = (speed - agent.speed) / dt
        agent.s += (agent.speed + speed) / 2 * dt
        agent.speed = speed
        agent.x, agent.y = lane.point(agent.s)
        agent.heading = lane.heading_deg

    def _walk(self, agent: Agent, now: float, dt: float) -> None:
        assert agent.walk is not None  # noqa: S101 - pedestrians always have a crossing
        x0, y0, ux, uy, length = agent.walk
        # crossing the north/south arm runs parallel to east-west traffic (phase 3) and vice versa
        phase = 3 if uy == 0.0 else 1
        if agent.waiting:
            timing = self.intersection.plan.timing(phase, now)
            if timing.current_light.endswith("green") and timing.remaining_s > 6.0:
                agent.waiting = False
                agent.speed = agent.v0
            return
        agent.s += agent.speed * dt
        agent.x, agent.y = x0 + ux * agent.s, y0 + uy * agent.s
        agent.accel = 0.0
        if agent.s >= length:
            agent.speed = 0.0

    @staticmethod
    def _gone(agent: Agent) -> bool:
        if agent.ptc_type == "pedestrian":
            return agent.walk is not None and agent.s >= agent.walk[4]
        return agent.s >= 2 * ROAD_HALF_LEN_M

    # -- observation --------------------------------------------------------------------------

    def detected(self, limit: int = 16) -> list[Agent]:
        """Participants the roadside sensors see: within range, nearest first, at most ``limit``."""
        seen = [a for a in self.agents if math.hypot(a.x, a.y) <= DETECTION_RADIUS_M]
        seen.sort(key=lambda a: (math.hypot(a.x, a.y), a.ptc_id))
        return seen[:limit]

    def equipped(self) -> list[Agent]:
        """Vehicles that broadcast their own BSM (the RSU relays them)."""
        return [a for a in self.agents if a.vehicle_id is not None]
