"""Ack watermark: PUBACKs leave in receive order, never across connections."""

from __future__ import annotations

import random

from gateway.acks import AckTracker


class AckLog:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []
        self.live_generation = 1

    def __call__(self, generation: int, mid: int, qos: int) -> bool:
        if generation != self.live_generation:
            return False
        self.sent.append((generation, mid))
        return True


def test_out_of_order_completion_acks_in_receive_order() -> None:
    log = AckLog()
    t = AckTracker(log)
    tickets = [t.add(1, mid, 1) for mid in (10, 11, 12, 13)]
    assert t.complete(tickets[2]) == 0
    assert t.complete(tickets[1]) == 0
    assert log.sent == []
    assert t.complete(tickets[0]) == 3
    assert log.sent == [(1, 10), (1, 11), (1, 12)]
    assert t.pending == 1
    assert t.complete(tickets[3]) == 1
    assert t.pending == 0
    assert t.acked == 4


def test_completing_twice_is_harmless() -> None:
    log = AckLog()
    t = AckTracker(log)
    a = t.add(1, 1, 1)
    assert t.complete(a) == 1
    assert t.complete(a) == 0
    assert log.sent == [(1, 1)]


def test_qos0_is_released_without_puback_and_does_not_block() -> None:
    log = AckLog()
    t = AckTracker(log)
    q0 = t.add(1, 0, 0)
    q1 = t.add(1, 5, 1)
    t.complete(q1)
    assert log.sent == []  # behind the QoS 0 message
    t.complete(q0)
    assert log.sent == [(1, 5)]


def test_new_connection_orphans_old_messages() -> None:
    log = AckLog()
    t = AckTracker(log)
    old = [t.add(1, mid, 1) for mid in (1, 2, 3)]
    t.complete(old[1])  # done but blocked behind mid 1
    log.live_generation = 2
    t.begin_generation(2)
    assert t.orphaned == 3
    assert t.pending == 2  # mids 1 and 3 still in delivery
    new = t.add(2, 1, 1)  # mid 1 again: ids restart per connection
    assert t.complete(old[0]) == 0
    assert t.complete(new) == 1
    assert t.complete(old[2]) == 0
    assert log.sent == [(2, 1)]
    assert t.pending == 0


def test_message_from_replaced_connection_is_never_acked() -> None:
    log = AckLog()
    t = AckTracker(log)
    t.begin_generation(3)
    late = t.add(2, 9, 1)
    assert t.pending == 1
    assert t.complete(late) == 0
    assert t.pending == 0
    assert log.sent == []


def test_add_with_newer_generation_advances() -> None:
    log = AckLog()
    t = AckTracker(log)
    a = t.add(1, 1, 1)
    log.live_generation = 2
    b = t.add(2, 1, 1)
    assert t.generation == 2
    t.complete(b)
    t.complete(a)
    assert log.sent == [(2, 1)]


def test_abandon_orphan() -> None:
    t = AckTracker(AckLog())
    a = t.add(1, 1, 1)
    t.begin_generation(2)
    t.abandon(a)
    assert t.pending == 0


def test_random_completion_orders_keep_receive_order() -> None:
    rng = random.Random(7)
    for _ in range(50):
        log = AckLog()
        t = AckTracker(log)
        n = rng.randint(1, 200)
        tickets = [t.add(1, mid, 1) for mid in range(1, n + 1)]
        order = tickets[:]
        rng.shuffle(order)
        for done, ticket in enumerate(order, 1):
            t.complete(ticket)
            acked = [mid for _, mid in log.sent]
            # Acked ids are always a prefix of the receive order and only of completed messages.
            assert acked == list(range(1, len(acked) + 1))
            assert all(tickets[m - 1].done for m in acked)
            assert len(acked) <= done
        assert [mid for _, mid in log.sent] == list(range(1, n + 1))
