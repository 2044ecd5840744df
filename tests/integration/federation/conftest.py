"""One instance replicating to the test province through a real MirrorMaker 2, per module."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.secure_kafka import SecureKafka
from tests.fixtures.services import StackAddresses
from tests.integration.federation.helpers import Instance, catalog_with_scope, new_instance

# iiot_metric is conditional; with the province in its scope its share tier may leave.
WIDE = ("jl_industry_dept", "province")
NARROW = ("jl_industry_dept",)


@pytest.fixture(scope="module")
def replicating(
    stack: StackAddresses, province: SecureKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instance]:
    """An instance whose catalog lets agri_soil and iiot_metric shares leave, MirrorMaker running."""
    tmp: Path = tmp_path_factory.mktemp("federation")
    instance = asyncio.run(new_instance(stack, province, tmp))
    asyncio.run(instance.configure(catalog_with_scope("iiot_metric", WIDE)))
    instance.mirror.start()
    try:
        yield instance
    finally:
        with contextlib.suppress(Exception):
            instance.mirror.stop()
