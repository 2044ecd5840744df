"""Unit tests of the produce timeout sweeper."""

from __future__ import annotations

import pytest

from gateway.sweeper import DeadlineSweeper


def test_nothing_expires_before_the_deadline() -> None:
    sweeper: DeadlineSweeper[str] = DeadlineSweeper(10.0)
    sweeper.add("a", 0.0)
    assert sweeper.expired(9.99) == []
    assert sweeper.next_deadline() == 10.0


def test_expired_in_insertion_order_and_marked_settled() -> None:
    sweeper: DeadlineSweeper[str] = DeadlineSweeper(1.0)
    a = sweeper.add("a", 0.0)
    sweeper.add("b", 0.5)
    sweeper.add("c", 2.0)
    out = sweeper.expired(1.5)
    assert [x.item for x in out] == ["a", "b"]
    assert a.settled
    assert sweeper.expired(1.5) == []
    assert sweeper.next_deadline() == 3.0


def test_settled_attempts_never_expire_and_are_dropped() -> None:
    sweeper: DeadlineSweeper[int] = DeadlineSweeper(1.0)
    attempts = [sweeper.add(i, float(i)) for i in range(5)]
    for attempt in attempts[:3]:
        attempt.settled = True
    assert sweeper.next_deadline() == 4.0
    assert len(sweeper) == 2
    assert [x.item for x in sweeper.expired(100.0)] == [3, 4]
    assert sweeper.next_deadline() is None
    assert len(sweeper) == 0


def test_a_settled_head_does_not_hide_expired_attempts_behind_it() -> None:
    sweeper: DeadlineSweeper[str] = DeadlineSweeper(1.0)
    head = sweeper.add("head", 0.0)
    sweeper.add("next", 0.1)
    head.settled = True
    assert [x.item for x in sweeper.expired(5.0)] == ["next"]


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        DeadlineSweeper[str](0.0)


def test_prune_drops_settled_heads_only() -> None:
    sweeper: DeadlineSweeper[int] = DeadlineSweeper(1.0)
    a, b, c = (sweeper.add(i, 0.0) for i in range(3))
    b.settled = True
    sweeper.prune()
    assert len(sweeper) == 3  # b is behind an unsettled head
    a.settled = True
    sweeper.prune()
    assert len(sweeper) == 1
    assert not c.settled
