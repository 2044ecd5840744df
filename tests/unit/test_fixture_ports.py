"""The test fixtures' listening ports: never the same port twice in one test process."""

from __future__ import annotations

from tests.fixtures.ports import free_port


def test_free_ports_are_distinct_and_above_the_ephemeral_range() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
    assert all(61000 <= p <= 65534 for p in ports)
