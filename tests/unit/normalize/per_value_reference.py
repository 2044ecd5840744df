"""The former validator (pydantic per value), kept as the reference the column-wise one must match.

Per dataset, one pydantic model generated from the catalog items (strict types, unknown items
forbidden) validates every value mapping; finiteness, required items and ranges are checked with
numpy. ``tests/unit/normalize/test_validate_batch.py`` compares it with ``DatasetValidator``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts.dead_letter import ReasonCode
from contracts.record import RecordValue
from processors.normalize.catalog_view import EntryLike, ItemLike
from processors.normalize.validate import RowOutcome, values_model

__all__ = ["PerValueValidator"]

class PerValueValidator:
    """Validates batches of value mappings for one dataset; stateless after construction."""

    def __init__(self, entry: EntryLike, *, out_of_range: str = "reject") -> None:
        self.entry = entry
        self._model = values_model(entry)
        self._adapter: TypeAdapter[list[BaseModel]] = TypeAdapter(list[self._model])  # type: ignore[name-defined]
        self._items: tuple[ItemLike, ...] = tuple(entry.items)
        self._numeric = tuple(i for i in self._items if i.type in ("double", "integer"))
        self._required = tuple(i.name for i in self._items if i.required)
        self._reject_range = out_of_range == "reject"

    def validate(self, rows: Sequence[Mapping[str, RecordValue]]) -> list[RowOutcome]:
        """Validate ``rows`` together; the result has one outcome per row, in order."""
        n = len(rows)
        outcomes: list[RowOutcome | None] = [None] * n
        # 1. required items and finiteness first: NaN must be reported as such, not as a type error
        present = {
            item.name: np.fromiter(
                (row.get(item.name) is not None for row in rows), dtype=bool, count=n
            )
            for item in self._items
        }
        for name in self._required:
            for i in np.flatnonzero(~present[name]).tolist():
                outcomes[i] = RowOutcome({}, (), ReasonCode.MISSING_REQUIRED, f"{name} is missing")
        columns: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        for item in self._numeric:
            col = np.fromiter((_as_float(row.get(item.name)) for row in rows), np.float64, n)
            columns[item.name] = col
            bad = present[item.name] & ~np.isfinite(col) & ~_non_numeric(rows, item.name)
            for i in np.flatnonzero(bad).tolist():
                if outcomes[i] is None:
                    detail = f"{item.name} is not finite ({rows[i].get(item.name)!r})"
                    outcomes[i] = RowOutcome({}, (), ReasonCode.VALUE_NOT_FINITE, detail)
        # 2. types and unknown items, one TypeAdapter call for the rows still standing
        standing = [i for i in range(n) if outcomes[i] is None]
        models = self._validate_types(rows, standing, outcomes)
        # 3. catalog ranges, vectorized per column
        range_bad = np.zeros(n, dtype=bool)
        range_detail: dict[int, str] = {}
        for item in self._numeric:
            col = columns[item.name]
            low = -np.inf if item.min is None else float(item.min)
            high = np.inf if item.max is None else float(item.max)
            above = col >= high if getattr(item, "max_exclusive", False) else col > high
            out = present[item.name] & np.isfinite(col) & ((col < low) | above)
            for i in np.flatnonzero(out & ~range_bad).tolist():
                range_detail[i] = f"{item.name}={float(col[i])!r} outside [{low}, {high}]"
            range_bad |= out
        all_present = np.ones(n, dtype=bool)
        for mask in present.values():
            all_present &= mask
        result: list[RowOutcome] = []
        for i in range(n):
            done = outcomes[i]
            if done is not None:
                result.append(done)
                continue
            if range_bad[i] and self._reject_range:
                result.append(RowOutcome({}, (), ReasonCode.OUT_OF_RANGE, range_detail[i]))
                continue
            values = models[i].model_dump(exclude_none=True)
            flags = (
                "schema_ok",
                "range_violation" if range_bad[i] else "range_ok",
                "complete" if all_present[i] else "partial",
            )
            result.append(RowOutcome(values, flags))
        return result

    def _validate_types(
        self,
        rows: Sequence[Mapping[str, RecordValue]],
        standing: list[int],
        outcomes: list[RowOutcome | None],
    ) -> dict[int, BaseModel]:
        batch = [dict(rows[i]) for i in standing]
        try:
            models = self._adapter.validate_python(batch)
            return dict(zip(standing, models, strict=True))
        except ValidationError as exc:
            bad: dict[int, str] = {}
            for err in exc.errors(include_url=False):
                pos = err["loc"][0] if err["loc"] else None
                if isinstance(pos, int) and pos not in bad:
                    field = ".".join(str(p) for p in err["loc"][1:])
                    bad[pos] = f"{field}: {err['msg']}"
            if not bad:  # an error we cannot place: refuse the rows rather than loop
                bad = {pos: str(exc) for pos in range(len(standing))}
            for pos, detail in bad.items():
                outcomes[standing[pos]] = RowOutcome({}, (), ReasonCode.SCHEMA_INVALID, detail)
            rest = [i for i in standing if outcomes[i] is None]
            if not rest:
                return {}
            return self._validate_types(rows, rest, outcomes)


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def _non_numeric(rows: Sequence[Mapping[str, RecordValue]], name: str) -> np.ndarray[Any, Any]:
    """Rows whose value is present but not a number: left to the type check, not to finiteness."""
    return np.fromiter(
        (
            (v := row.get(name)) is not None
            and (isinstance(v, bool) or not isinstance(v, int | float))
            for row in rows
        ),
        dtype=bool,
        count=len(rows),
    )
