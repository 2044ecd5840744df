"""Public modules export exactly what they define."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "processors.provenance", "processors.provenance.canonical", "processors.provenance.merkle",
    "processors.provenance.keys", "processors.provenance.log", "processors.provenance.checkpoint",
    "processors.provenance.verify", "processors.provenance.proof",
    "processors.provenance.corrections", "processors.provenance.rowdocs", "processors.sinks",
    "processors.sinks.base", "processors.sinks.sqlstate", "processors.sinks.rows",
    "processors.sinks.writer", "processors.sinks.timescale", "processors.sinks.service",
    "processors.sinks.config", "processors.storage", "processors.storage.ddl",
    "processors.storage.migrate", "processors.storage.partitions",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"
