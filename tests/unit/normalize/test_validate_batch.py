"""Column-wise validation refuses, flags and returns exactly what the per-value (pydantic) one did.

A generated corpus per catalog dataset: valid rows, and rows with values out of range, NaN or
infinite, required items missing or None, values of the wrong type (text for numbers, bools,
floats for integers, numbers for text, names outside an enum) and items the catalog does not know.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from processors.catalog import load_catalog
from processors.normalize.validate import DatasetValidator
from tests.unit.normalize.per_value_reference import PerValueValidator

CATALOG = load_catalog()
ROWS_PER_DATASET = 2000


def _valid(rng: random.Random, item: Any) -> Any:
    low = item.min if item.min is not None else -1e6
    high = item.max if item.max is not None else 1e6
    if item.type == "double":
        return rng.choice([rng.uniform(low, high), float(low), int(low)])
    if item.type == "integer":
        return rng.randint(math.ceil(low), math.floor(high) - (1 if item.max_exclusive else 0))
    if item.type == "boolean":
        return rng.random() < 0.5
    if item.enum:
        return rng.choice(item.enum)
    return rng.choice(["a", "北京", "x" * 40, ""])


def _defect(rng: random.Random, item: Any) -> Any:
    if item.type in ("double", "integer"):
        options: list[Any] = [math.nan, math.inf, -math.inf, "12", True, None]
        if item.max is not None:
            options.append(item.max + rng.choice([1, 1000, 0.5]))
            if item.max_exclusive:
                options.append(item.max)
        if item.min is not None:
            options.append(item.min - rng.choice([1, 1000, 0.5]))
        if item.type == "integer":
            options += [3.0, 2.5]
        return rng.choice(options)
    if item.type == "boolean":
        return rng.choice([1, "true", None])
    return rng.choice([1, 2.5, False, None, "not-in-enum" if item.enum else None])


def _corpus(rng: random.Random, entry: Any) -> list[dict[str, Any]]:
    rows = []
    for _ in range(ROWS_PER_DATASET):
        row = {i.name: _valid(rng, i) for i in entry.items if i.required or rng.random() < 0.7}
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            item = rng.choice(entry.items)
            if rng.random() < 0.15:
                row.pop(item.name, None)
            else:
                row[item.name] = _defect(rng, item)
        if rng.random() < 0.03:
            row["no_such_item"] = 1
        rows.append(row)
    return rows


def _named(detail: str) -> str:
    """The item a refusal names (its detail opens with it)."""
    return detail.replace("=", " ").replace(":", " ").split(" ", 1)[0]


# Whole corpus: nearly every column holds some defect and is judged value by value. Chunks of 5
# rows: most columns are clean (exact types, perhaps NaN, None or out of range) and take the
# column-at-once path, so both paths are compared with the per-value reference.
@pytest.mark.parametrize("chunk", [ROWS_PER_DATASET, 5])
@pytest.mark.parametrize("out_of_range", ["reject", "flag"])
@pytest.mark.parametrize("entry", list(CATALOG.entries.values()), ids=lambda e: e.code)
def test_batch_validation_matches_per_value(entry: Any, out_of_range: str, chunk: int) -> None:
    rng = random.Random(f"{entry.code}-{out_of_range}")
    rows = _corpus(rng, entry)
    before = PerValueValidator(entry, out_of_range=out_of_range).validate(rows)
    validator = DatasetValidator(entry, out_of_range=out_of_range)
    after = [o for i in range(0, len(rows), chunk) for o in validator.validate(rows[i : i + chunk])]
    reasons = set()
    for row, old, new in zip(rows, before, after, strict=True):
        assert new.reason == old.reason, (row, old, new)
        assert _named(new.detail) == _named(old.detail), (row, old.detail, new.detail)
        assert new.flags == old.flags, row
        assert new.values == old.values, row
        assert [type(v) for v in new.values.values()] == [type(v) for v in old.values.values()]
        reasons.add(old.reason)
    assert None in reasons and len(reasons) >= 3  # the corpus reached several refusals
