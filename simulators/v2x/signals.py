"""Fixed-time signal plans and the SPAT phase timing they imply at any instant.

A plan is a cycle of stages; each stage gives one phase its green, followed by yellow and all-red.
Timing follows the C-V2X ``TimeCountingDown`` convention: tenths of a second counted from now.
Because every value is computed from the cycle position, two SPATs taken ``dt`` apart inside one
light state differ by exactly ``dt`` in ``likelyEndTime``: the countdown is consistent over time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LightSpan", "PhaseTiming", "SignalPhase", "SignalPlan", "default_plan"]

YELLOW_S = 3.0
ALL_RED_S = 2.0


@dataclass(frozen=True, slots=True)
class SignalPhase:
    """One signal group: its SPAT/MAP phase id, green length and the light name shown when green."""

    phase_id: int
    green_s: float
    green_light: str  # "permissive-green" (through) or "protected-green" (left turn)
    movement: str  # "ns_through", "ns_left", "ew_through", "ew_left"


@dataclass(frozen=True, slots=True)
class LightSpan:
    """One occurrence of a light relative to now (seconds; start <= 0 < end for the current one)."""

    light: str
    start_s: float
    end_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class PhaseTiming:
    """SPAT view of one phase: its lights, current first, with counting-down timing in 0.1 s."""

    phase_id: int
    states: tuple[dict[str, object], ...]
    current_light: str
    remaining_s: float


@dataclass(frozen=True)
class SignalPlan:
    """A fixed-time plan: stages in order, each followed by yellow and all-red; ``offset_s`` shifts it."""

    phases: tuple[SignalPhase, ...]
    offset_s: float = 0.0

    @property
    def cycle_s(self) -> float:
        """Cycle length in seconds."""
        return sum(p.green_s + YELLOW_S + ALL_RED_S for p in self.phases)

    def _green_start(self, index: int) -> float:
        return sum(p.green_s + YELLOW_S + ALL_RED_S for p in self.phases[:index])

    def spans(self, index: int) -> list[tuple[str, float, float]]:
        """The three lights of phase ``index`` as (light, start, end) within one cycle."""
        phase = self.phases[index]
        g0 = self._green_start(index)
        g1 = g0 + phase.green_s
        y1 = g1 + YELLOW_S
        return [(phase.green_light, g0, g1), ("yellow", g1, y1), ("red", y1, g0 + self.cycle_s)]

    def light_at(self, phase_id: int, t_s: float) -> str:
        """Light of ``phase_id`` at absolute time ``t_s`` (seconds since the epoch)."""
        return self.timing(phase_id, t_s).current_light

    def timing(self, phase_id: int, t_s: float) -> PhaseTiming:
        """SPAT phase states of ``phase_id`` at absolute time ``t_s``, current light first."""
        index = next(i for i, p in enumerate(self.phases) if p.phase_id == phase_id)
        cycle = self.cycle_s
        tau = (t_s - self.offset_s) % cycle
        occurrences: list[LightSpan] = []
        for light, start, end in self.spans(index):
            # shift the span so that it is the current or next occurrence relative to tau
            shift = 0.0
            while end + shift <= tau:
                shift += cycle
            while end + shift - cycle > tau:
                shift -= cycle
            occurrences.append(
                LightSpan(light, start + shift - tau, end + shift - tau, end - start)
            )
        occurrences.sort(key=lambda s: s.start_s)
        states: list[dict[str, object]] = []
        for span in occurrences:
            start = max(span.start_s, 0.0)
            states.append(
                {
                    "light": span.light,
                    "timing": (
                        "counting",
                        {
                            "startTime": _tenths(start),
                            "likelyEndTime": _tenths(span.end_s),
                            "nextStartTime": _tenths(span.start_s + cycle),
                            "nextDuration": _tenths(span.duration_s),
                        },
                    ),
                }
            )
        current = occurrences[0]
        return PhaseTiming(phase_id, tuple(states), current.light, current.end_s)


def _tenths(seconds: float) -> int:
    """Seconds to a ``TimeMark`` in 0.1 s, clamped to the type's 0..36001 range."""
    return max(0, min(36000, round(seconds * 10)))


def default_plan(offset_s: float, scale: float = 1.0) -> SignalPlan:
    """A four-stage plan (NS through, NS left, EW through, EW left), green lengths scaled."""
    return SignalPlan(
        phases=(
            SignalPhase(1, round(30 * scale), "permissive-green", "ns_through"),
            SignalPhase(2, round(12 * scale), "protected-green", "ns_left"),
            SignalPhase(3, round(25 * scale), "permissive-green", "ew_through"),
            SignalPhase(4, round(10 * scale), "protected-green", "ew_left"),
        ),
        offset_s=offset_s,
    )
