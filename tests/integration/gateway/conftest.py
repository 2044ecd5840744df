"""Fixtures of the gateway integration tests: a unique topic prefix, private brokers for faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.fixtures.private_stack import private_kafka, private_mosquitto
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import delete_topics

__all__ = ["prefix", "private_kafka", "private_mosquitto"]


@pytest.fixture
async def prefix(stack: StackAddresses, unique_name: Callable[[str], str]) -> AsyncIterator[str]:
    """A topic prefix of this test only; its topics are deleted afterwards."""
    name = unique_name("gw") + "."
    yield name
    await delete_topics(stack.kafka_bootstrap, name)
