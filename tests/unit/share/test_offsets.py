"""Share service offsets: revoked partitions are never committed; acks are awaited with a bound."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from processors.share.offsets import OffsetBook, ShareDeliveryError, await_acks


class FakeConsumer:
    """Only what OffsetBook.commit uses: the assignment and commit (which may refuse)."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse = False

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse:
            msg = "rebalance in progress"
            raise CommitFailedError(msg)
        self.commits.append(dict(offsets))


async def test_revoked_partition_is_pruned_and_never_committed() -> None:
    a, b = TopicPartition("d", 0), TopicPartition("d", 1)
    book = OffsetBook()
    consumer = FakeConsumer({a, b})
    book.advance("d", 0, 9)
    book.advance("d", 1, 19)
    assert await book.commit(consumer, {}) == 2
    assert consumer.commits[-1] == {a: 10, b: 20}
    book.advance("d", 1, 29)
    await book.on_partitions_revoked([b])
    consumer.assigned = {a}
    book.advance("d", 0, 10)
    assert await book.commit(consumer, {("d", 0): 5}) == 1
    assert consumer.commits[-1] == {a: 5}  # held by a window, and b is gone
    assert ("d", 1) not in book.processed


async def test_commit_refused_by_a_rebalance_is_not_fatal() -> None:
    a = TopicPartition("d", 0)
    book = OffsetBook()
    consumer = FakeConsumer({a})
    book.advance("d", 0, 3)
    consumer.refuse = True
    assert await book.commit(consumer, {}) == 0
    assert book.refused == 1
    consumer.refuse = False
    assert await book.commit(consumer, {}) == 1  # still due: it was never committed


async def test_unacknowledged_outputs_time_out() -> None:
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    with pytest.raises(ShareDeliveryError) as info:
        await await_acks([never], 0.05)
    assert info.value.retriable
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    await await_acks([done], 0.05)
