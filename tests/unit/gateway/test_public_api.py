"""Every gateway module declares ``__all__`` naming exactly its public definitions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gateway

MODULES = sorted(m.name for m in pkgutil.iter_modules(gateway.__path__) if m.name != "__main__")


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_public_definitions(name: str) -> None:
    module = importlib.import_module(f"gateway.{name}")
    declared = set(module.__all__)
    defined = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module.__name__
    }
    assert defined <= declared
    assert all(hasattr(module, n) for n in declared)
