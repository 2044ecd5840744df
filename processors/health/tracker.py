"""Per-device health counters from delivered normalize batches (pure, in memory).

The normalize runner hands every delivered ``BatchResult`` to ``HealthTracker.observe``; the
tracker counts per device and window: messages, records, dead letters by reason, gaps in the
device's own message counter (LoRaWAN ``f_cnt``, V2X ``msg_cnt`` per message type, Sparkplug
``seq`` per edge node) and clock skew (receive time minus device time). ``drain`` hands the
window deltas to the store and forgets them; the last counter values and last-seen times stay, so
gaps across batches are found and silence can be judged.

A gap counts frames missing from the dataset, whether lost on the radio or network or refused as
dead letters (a refused frame carries no decoded counter).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.dead_letter import DeadLetter
from contracts.record import WireRecord
from processors.normalize.contract import BatchResult

__all__ = ["HealthDelta", "HealthTracker", "counter_of", "counter_step"]

DeviceKey = tuple[str, str]  # (family, device_id)
_NS = 1_000_000_000


@dataclass(slots=True)
class HealthDelta:
    """What one device did in one window, as increments."""

    family: str
    device_id: str
    window_start_s: int
    messages: int = 0
    records: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    counter_gaps: int = 0
    counter_resets: int = 0
    skew_ms_sum: float = 0.0
    skew_ms_max: float = 0.0
    skew_n: int = 0
    first_seen_ns: int = 0
    last_seen_ns: int = 0

    def seen(self, received_ns: int) -> None:
        """Widen the window's first/last seen times."""
        if not self.first_seen_ns or received_ns < self.first_seen_ns:
            self.first_seen_ns = received_ns
        self.last_seen_ns = max(self.last_seen_ns, received_ns)


def counter_of(record: WireRecord) -> tuple[str, int, int | None] | None:
    """The device's message counter carried by ``record``: (stream, value, modulus) or None.

    Streams: LoRaWAN ``f_cnt`` (32-bit, a decrease is a reset), V2X ``msg_cnt`` per message type
    (mod 128; BSMs are relayed for many vehicles and skipped), Sparkplug ``seq`` per edge node
    (mod 256).
    """
    v = record.values
    if isinstance(v.get("f_cnt"), int):
        return ("f_cnt", int(v["f_cnt"]), None)  # type: ignore[arg-type]
    if isinstance(v.get("msg_cnt"), int) and v.get("source_msg") != "bsm":
        stream = f"msg_cnt:{v.get('source_msg') or record.dataset}"
        return (stream, int(v["msg_cnt"]), 128)  # type: ignore[arg-type]
    if isinstance(v.get("seq"), int):
        return (f"seq:{v.get('edge_node')}", int(v["seq"]), 256)  # type: ignore[arg-type]
    return None


def counter_step(last: int, value: int, modulus: int | None) -> tuple[int, bool]:
    """Frames missing between ``last`` and ``value``, and whether the counter was reset."""
    if modulus is None:
        if value < last:
            return 0, True
        return max(0, value - last - 1), False
    diff = (value - last) % modulus
    if diff == 0:
        return 0, False  # a repeat (duplicate or static message)
    if diff > modulus // 2:
        return 0, True  # a large backwards step: rebirth / restart, not half a cycle lost
    return diff - 1, False


class HealthTracker:
    """Window counters per device; not thread-safe (one per normalize runner)."""

    def __init__(self, families: dict[str, str], window_s: int = 300) -> None:
        self._family_of = families  # dataset code -> device family
        self.window_s = window_s
        self._deltas: dict[tuple[str, str, int], HealthDelta] = {}
        self._counters: dict[tuple[str, str, str], int] = {}
        self.last_seen_ns: dict[DeviceKey, int] = {}

    def _delta(self, family: str, device_id: str, received_ns: int) -> HealthDelta:
        if family == "iiot" and device_id.count("/") == 2:
            # Sparkplug devices are registered through their edge node: count them there
            device_id = device_id.rsplit("/", 1)[0]
        window = (received_ns // _NS) // self.window_s * self.window_s
        key = (family, device_id, window)
        delta = self._deltas.get(key)
        if delta is None:
            delta = self._deltas[key] = HealthDelta(family, device_id, window)
        delta.seen(received_ns)
        dev = (family, device_id)
        self.last_seen_ns[dev] = max(self.last_seen_ns.get(dev, 0), received_ns)
        return delta

    def observe(
        self, result: BatchResult, extra_letters: Iterable[DeadLetter] = ()
    ) -> dict[DeviceKey, int]:
        """Count one delivered batch; returns the counter gaps it revealed, per device."""
        gaps: dict[DeviceKey, int] = {}
        messages: dict[tuple[str, int, int], list[WireRecord]] = {}
        for record in result.records:
            p = record.provenance
            messages.setdefault((p.kafka_topic, p.kafka_partition, p.kafka_offset), []).append(
                record
            )
        for records in messages.values():
            found = self._message(records)
            if found is not None and found[1]:
                gaps[found[0]] = gaps.get(found[0], 0) + found[1]
        for letter in (*result.dead_letters, *extra_letters):
            env = letter.envelope
            family, device_id = str(env.get("family", "")), str(env.get("device_id", ""))
            if not family or not device_id:
                continue
            received = int(env.get("received_ns") or letter.created_ns)
            delta = self._delta(family, device_id, received)
            delta.messages += 1
            delta.dead_letters[letter.reason.value] += 1
        return gaps

    def _message(self, records: list[WireRecord]) -> tuple[DeviceKey, int] | None:
        first = records[0]
        p = first.provenance
        family = self._family_of.get(first.dataset, "")
        if not family:
            return None
        delta = self._delta(family, p.device_id, p.received_ns)
        delta.messages += 1
        delta.records += len(records)
        observed_ns = int(first.observed_at.timestamp() * 1_000_000) * 1000
        skew_ms = (p.received_ns - observed_ns) / 1e6
        delta.skew_ms_sum += skew_ms
        delta.skew_n += 1
        if abs(skew_ms) > abs(delta.skew_ms_max):
            delta.skew_ms_max = skew_ms
        seen: set[str] = set()
        found = 0
        for record in records:
            counter = counter_of(record)
            if counter is None or counter[0] in seen:
                continue
            stream, value, modulus = counter
            seen.add(stream)
            key = (family, delta.device_id, stream)
            last = self._counters.get(key)
            self._counters[key] = value
            if last is None:
                continue
            gaps, reset = counter_step(last, value, modulus)
            delta.counter_gaps += gaps
            delta.counter_resets += int(reset)
            found += gaps
        return (family, delta.device_id), found

    def drain(self) -> list[HealthDelta]:
        """The window deltas collected since the last drain (and forget them)."""
        out, self._deltas = list(self._deltas.values()), {}
        return out

    def restore(self, deltas: Iterable[HealthDelta]) -> None:
        """Put back deltas whose flush failed, so the next flush carries them."""
        for d in deltas:
            key = (d.family, d.device_id, d.window_start_s)
            mine = self._deltas.get(key)
            if mine is None:
                self._deltas[key] = d
                continue
            mine.messages += d.messages
            mine.records += d.records
            mine.dead_letters.update(d.dead_letters)
            mine.counter_gaps += d.counter_gaps
            mine.counter_resets += d.counter_resets
            mine.skew_ms_sum += d.skew_ms_sum
            mine.skew_n += d.skew_n
            if abs(d.skew_ms_max) > abs(mine.skew_ms_max):
                mine.skew_ms_max = d.skew_ms_max
            mine.seen(d.first_seen_ns)
            mine.seen(d.last_seen_ns)
