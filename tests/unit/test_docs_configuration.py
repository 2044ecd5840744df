"""docs/configuration.md is generated from the settings classes and must be current."""

from __future__ import annotations

from scripts.config_table import TARGET, render


def test_configuration_doc_is_current() -> None:
    assert TARGET.read_text() == render(), "run: python -m scripts.config_table --write"


def test_every_service_variable_has_the_prefix_and_nested_delimiter() -> None:
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| `SENSEGATE_")]
    assert len(rows) > 50
    assert any("SENSEGATE_KAFKA__BOOTSTRAP_SERVERS" in r for r in rows)
    assert any("SENSEGATE_DB__DSN" in r and "secret, no default" in r for r in rows)
