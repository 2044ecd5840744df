"""Offset gap detection of the sink (alarm for records Kafka no longer has)."""

from __future__ import annotations

from contracts.dead_letter import DeadLetter, ReasonCode
from processors.sinks.base import SinkInput
from processors.sinks.gaps import GAP_RECORDS, OffsetGap, count_gaps, find_gaps, gap_letter


def items(topic: str, partition: int, offsets: list[int]) -> list[SinkInput]:
    return [SinkInput(topic, partition, o, b"{}") for o in offsets]


def test_first_offset_beyond_the_stored_one_is_a_gap() -> None:
    gaps = find_gaps({("t", 0): 10}, items("t", 0, [15, 16, 17]))
    assert gaps == [OffsetGap("t", 0, 10, 14)]
    assert gaps[0].missing == 5


def test_contiguous_replays_and_new_partitions_are_not_gaps() -> None:
    assert find_gaps({("t", 0): 10}, items("t", 0, [10, 11, 12])) == []
    assert find_gaps({("t", 0): 10}, items("t", 0, [7, 8, 9, 10])) == []  # replay below stored
    assert find_gaps({}, items("t", 1, [500, 501])) == []  # no expectation yet


def test_a_jump_inside_a_batch_is_a_gap() -> None:
    gaps = find_gaps({("t", 0): 0}, items("t", 0, [0, 1, 5, 6]) + items("u", 2, [3]))
    assert gaps == [OffsetGap("t", 0, 2, 4)]


def test_gap_letter_names_the_range_and_is_counted_once() -> None:
    gap = OffsetGap("sensegate.data.x", 3, 100, 149)
    letter = DeadLetter.from_json(gap_letter(gap, "sink-g").to_json())
    assert letter.reason is ReasonCode.OFFSET_GAP
    assert letter.coordinates == {
        "topic": "sensegate.data.x", "partition": 3, "offset": 100,
        "first_missing": 100, "last_missing": 149,
    }  # fmt: skip
    assert "100..149" in letter.detail
    assert (
        letter.source_identity
        != gap_letter(OffsetGap("sensegate.data.x", 3, 150, 160), "g").source_identity
    )
    before = GAP_RECORDS.labels("sensegate.data.x")._value.get()
    count_gaps([gap], "sink-g")
    assert GAP_RECORDS.labels("sensegate.data.x")._value.get() - before == 50
