"""Value check of the oracle: stored items equal what each simulated device meant to report.

Counting alone cannot see a value stored in the wrong item (a temperature kept as moisture is one
row either way). Fleets whose messages carry ``expected_values`` are checked item by item against
the stored row of the same payload (matched by the raw SHA-256 of its provenance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["value_mismatches"]

# Sensors send rounded numbers and the platform converts units: allow float noise, nothing more.
_ABS, _REL = 1e-6, 1e-9


def _close(expected: float, stored: object) -> bool:
    if isinstance(stored, bool) or not isinstance(stored, int | float):
        return False
    return math.isclose(expected, float(stored), rel_tol=_REL, abs_tol=_ABS)


def value_mismatches(
    expected: Iterable[tuple[str, str, Mapping[str, float]]],
    stored: Mapping[str, Mapping[str, Mapping[str, object]]],
) -> dict[str, list[str]]:
    """Per dataset, one line per wrongly stored item.

    ``expected``: (payload SHA-256, dataset, item -> value); ``stored``: dataset -> SHA-256 ->
    row (column -> value). Messages without a stored row are the counting oracle's business.
    """
    out: dict[str, list[str]] = {}
    for sha, dataset, items in expected:
        row = stored.get(dataset, {}).get(sha)
        if row is None:
            continue
        for item, value in sorted(items.items()):
            got = row.get(item)
            if not _close(value, got):
                out.setdefault(dataset, []).append(
                    f"{dataset}: payload {sha[:12]} item {item} stored {got!r}, sent {value!r}"
                )
    return out
