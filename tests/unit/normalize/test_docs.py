"""The dead-letter documentation lists every reason code."""

from __future__ import annotations

from pathlib import Path

from contracts.dead_letter import ReasonCode

DOC = Path(__file__).resolve().parents[3] / "docs" / "dead-letters.md"


def test_every_reason_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [r.value for r in ReasonCode if f"`{r.value}`" not in text] == []
