"""Generated credentials: URL-safe, of the asked strength, never read as a command-line option."""

from __future__ import annotations

import re

from contracts.credential import new_credential


def test_credentials_never_start_with_a_dash_and_are_url_safe() -> None:
    values = [new_credential() for _ in range(5000)]
    assert not [v for v in values if v.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", v) for v in values)
    assert len(set(values)) == len(values)
    assert len(new_credential(18)) == 24
