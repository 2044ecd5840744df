"""Offset gaps: records a sink should have read but Kafka no longer returns, made loud.

The sink stores ``next_offset`` per partition with its rows. When the first record Kafka hands
back for a partition lies beyond that stored offset (retention deleted records while the sink was
down, a topic was recreated, an operator moved the group), the records in between were never
stored. The sink then still moves on (the records cannot be fetched any more), but each gap becomes
an ``offset_gap`` dead letter naming the missing range, is counted in
``sensegate_sink_offset_gaps_total`` / ``sensegate_sink_offset_gap_records_total`` and logged as an
error: never skipped silently. Data topics are written without transactions, so within a batch
offsets are consecutive and a jump there is a gap as well.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from processors.sinks.base import SinkInput, TopicPartition

__all__ = ["OffsetGap", "count_gaps", "find_gaps", "gap_letter"]

logger = logging.getLogger(__name__)

GAPS = Counter("sensegate_sink_offset_gaps_total", "offset gaps found by the sink", ["topic"])
GAP_RECORDS = Counter(
    "sensegate_sink_offset_gap_records_total", "records missing in offset gaps", ["topic"]
)


@dataclass(frozen=True, slots=True)
class OffsetGap:
    """Offsets ``first``..``last`` (inclusive) of a partition were never read."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def missing(self) -> int:
        """How many offsets the gap spans."""
        return self.last - self.first + 1


def find_gaps(stored: Mapping[TopicPartition, int], items: Iterable[SinkInput]) -> list[OffsetGap]:
    """Gaps between the stored next offsets and the records of one batch (see module docstring).

    A partition without a stored offset has no expectation yet (a new group starts wherever Kafka
    starts); records below the stored offset are replays, not gaps.
    """
    offsets: dict[TopicPartition, list[int]] = {}
    for item in items:
        offsets.setdefault((item.topic, item.partition), []).append(item.offset)
    gaps: list[OffsetGap] = []
    for (topic, partition), found in offsets.items():
        expected = stored.get((topic, partition))
        for offset in sorted(set(found)):
            if expected is not None and offset > expected:
                gaps.append(OffsetGap(topic, partition, expected, offset - 1))
            if expected is None or offset >= expected:
                expected = offset + 1
    return gaps


def count_gaps(gaps: Iterable[OffsetGap], group: str) -> None:
    """Count and log gaps whose dead letters were committed (once per gap)."""
    for gap in gaps:
        GAPS.labels(gap.topic).inc()
        GAP_RECORDS.labels(gap.topic).inc(gap.missing)
        logger.error("offset gap: %s", _detail(gap, group))


def _detail(gap: OffsetGap, group: str) -> str:
    return (
        f"offsets {gap.first}..{gap.last} of {gap.topic}[{gap.partition}] ({gap.missing} records) "
        f"were never read by sink group {group}: no longer in Kafka"
    )


def gap_letter(gap: OffsetGap, group: str) -> DeadLetter:
    """The dead letter of one gap (no payload: the records are gone; identity = the range)."""
    return DeadLetter(
        reason=ReasonCode.OFFSET_GAP,
        detail=_detail(gap, group),
        stage=Stage.SINK,
        payload=b"",
        envelope={"topic": f"{gap.topic}[{gap.partition}]#{gap.first}-{gap.last}"},
        coordinates={
            "topic": gap.topic,
            "partition": gap.partition,
            "offset": gap.first,
            "first_missing": gap.first,
            "last_missing": gap.last,
        },
    )
