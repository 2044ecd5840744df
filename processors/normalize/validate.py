"""Batch validation of record values against catalog items, column by column, without pydantic.

A batch of value mappings becomes one column per catalog item; required items, finiteness, strict
types (the rules of the generated pydantic model: a double takes an int or float but no bool, an
integer only an int, text only a string from the item's enum if it has one), unknown items and
catalog ranges are then checked per column with numpy masks. Every row gets either a refusal
(reason + detail, the first problem in that order) or its values plus quality flags.
``values_model`` (pydantic) stays for the published JSON Schema of the values, and
``tests/unit/normalize/test_validate_batch.py`` checks that both flag the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.dead_letter import ReasonCode
from contracts.record import RecordValue
from processors.normalize.catalog_view import EntryLike

__all__ = ["DatasetValidator", "RowOutcome", "values_model"]

_PY_TYPES: dict[str, Any] = {"double": float, "integer": int, "text": str, "boolean": bool}


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """Validation result for one row: ``reason`` None means accepted with ``values`` and ``flags``."""

    values: dict[str, RecordValue]
    flags: tuple[str, ...]
    reason: ReasonCode | None = None
    detail: str = ""


def values_model(entry: EntryLike) -> type[BaseModel]:
    """Pydantic model of a dataset's ``values`` mapping, generated from its catalog items."""
    fields: dict[str, Any] = {}
    for item in entry.items:
        py_type = _PY_TYPES.get(item.type)
        if py_type is None:
            msg = f"dataset {entry.code}: item {item.name} has unknown type {item.type!r}"
            raise ValueError(msg)
        extra: dict[str, Any] = {}
        if item.min is not None and item.type in ("double", "integer"):
            extra["minimum"] = item.min
        if item.max is not None and item.type in ("double", "integer"):
            exclusive = getattr(item, "max_exclusive", False)
            extra["exclusiveMaximum" if exclusive else "maximum"] = item.max
        unit = getattr(item, "unit", None)
        if unit:
            extra["x-ucum"] = unit
        if item.sensitivity != "none":
            extra["x-sensitivity"] = item.sensitivity
        enum = getattr(item, "enum", None)
        if enum and item.type == "text":
            py_type = Literal[tuple(enum)]
        annotation: Any = py_type if item.required else py_type | None
        default: Any = ... if item.required else None
        # ranges go into the JSON Schema only; the numpy pass enforces them with its own reason code
        fields[item.name] = (annotation, Field(default=default, json_schema_extra=extra or None))
    config = ConfigDict(extra="forbid", strict=True, frozen=True)
    model: type[BaseModel] = create_model(f"{entry.code}_values", __config__=config, **fields)
    return model


_TYPE_WORDS = {"double": "a valid number", "integer": "a valid integer", "text": "a valid string",
               "boolean": "a valid boolean"}
_INF = float("inf")


def _type_ok(kind: str, enum: frozenset[str] | None) -> Any:
    """Predicate of a present value of an item of ``kind`` (the strict pydantic rules)."""
    if kind == "double":
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    if kind == "integer":
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if kind == "boolean":
        return lambda v: isinstance(v, bool)
    if enum is not None:
        return lambda v: isinstance(v, str) and v in enum
    return lambda v: isinstance(v, str)


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    try:
        return float(value)
    except OverflowError:  # an int beyond float: infinitely far out of any range
        return _INF if value > 0 else -_INF


@dataclass(frozen=True, slots=True)
class _Fast:
    """A column whose present values all have the item's exact types: what the checks need."""

    present: np.ndarray[Any, np.dtype[np.bool_]]
    numbers: np.ndarray[Any, np.dtype[np.float64]] | None  # numeric items: values, NaN where absent
    has_int: bool


_NONE = type(None)
_EXACT: dict[str, frozenset[type]] = {
    "double": frozenset({float, int, _NONE}),
    "integer": frozenset({int, _NONE}),
    "text": frozenset({str, _NONE}),
    "boolean": frozenset({bool, _NONE}),
}


def _fast_column(c: _Column, values: list[Any], n: int) -> _Fast | None:
    """The column's checks done in C when its value types allow it, else None (per-value path)."""
    kinds = set(map(type, values))
    if not kinds <= _EXACT[c.kind]:
        return None  # a subclass, a wrong type, or a bool among numbers: judged per value
    if c.enum is not None and not (set(values) - {None}) <= c.enum:
        return None
    has_none = _NONE in kinds
    if has_none:
        present = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    else:
        present = np.ones(n, dtype=bool)
    numbers = None
    if c.numeric:
        try:  # None becomes NaN; an int beyond float range raises
            numbers = np.array(values, dtype=np.float64) if n else np.zeros(0)
        except OverflowError:
            return None
    return _Fast(present, numbers, int in kinds)


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: str
    required: bool
    numeric: bool
    low: float
    high: float
    high_exclusive: bool
    type_ok: Any
    enum: frozenset[str] | None


class DatasetValidator:
    """Validates batches of value mappings for one dataset; stateless after construction."""

    def __init__(self, entry: EntryLike, *, out_of_range: str = "reject") -> None:
        self.entry = entry
        columns = []
        for item in entry.items:
            if item.type not in _TYPE_WORDS:
                msg = f"dataset {entry.code}: item {item.name} has unknown type {item.type!r}"
                raise ValueError(msg)
            raw_enum = getattr(item, "enum", None)
            enum = frozenset(raw_enum) if raw_enum and item.type == "text" else None
            columns.append(_Column(
                name=item.name, kind=item.type, required=item.required,
                numeric=item.type in ("double", "integer"),
                low=-_INF if item.min is None else float(item.min),
                high=_INF if item.max is None else float(item.max),
                high_exclusive=bool(getattr(item, "max_exclusive", False)),
                type_ok=_type_ok(item.type, enum), enum=enum,
            ))  # fmt: skip
        self._columns = tuple(columns)
        self._names = frozenset(c.name for c in columns)
        self._reject_range = out_of_range == "reject"

    def validate(self, rows: Sequence[Mapping[str, RecordValue]]) -> list[RowOutcome]:
        """Validate ``rows`` together; the result has one outcome per row, in order."""
        n = len(rows)
        refusals: dict[int, tuple[ReasonCode, str]] = {}
        raw = {c.name: [row.get(c.name) for row in rows] for c in self._columns}
        # Columns whose values all have the item's exact Python types take a C-speed path (one
        # type scan, one array conversion); any other column goes through the per-value path.
        fast = {c.name: _fast_column(c, raw[c.name], n) for c in self._columns}
        present = {
            name: f.present if f is not None else np.fromiter(
                (v is not None for v in raw[name]), dtype=bool, count=n)
            for name, f in fast.items()
        }  # fmt: skip
        # 1. required items (the last missing one is named, as before), then finiteness
        for c in self._columns:
            if c.required:
                for i in np.flatnonzero(~present[c.name]).tolist():
                    refusals[i] = (ReasonCode.MISSING_REQUIRED, f"{c.name} is missing")
        numbers: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        for c in self._columns:
            if not c.numeric:
                continue
            f = fast[c.name]
            if f is not None and f.numbers is not None:
                col, numeric = f.numbers, present[c.name]  # every present value is a number
            else:
                col = np.fromiter(map(_as_float, raw[c.name]), np.float64, n)
                numeric = np.fromiter(
                    (isinstance(v, int | float) and not isinstance(v, bool) for v in raw[c.name]),
                    dtype=bool, count=n,
                )  # fmt: skip
            numbers[c.name] = col
            for i in np.flatnonzero(numeric & ~np.isfinite(col)).tolist():
                if i not in refusals:
                    detail = f"{c.name} is not finite ({raw[c.name][i]!r})"
                    refusals[i] = (ReasonCode.VALUE_NOT_FINITE, detail)
        # 2. strict types per column, then items the catalog does not know
        for c in self._columns:
            if fast[c.name] is not None:
                continue  # every present value has the item's type
            ok = c.type_ok
            bad = np.fromiter((v is not None and not ok(v) for v in raw[c.name]), bool, n)
            for i in np.flatnonzero(bad).tolist():
                if i not in refusals:
                    refusals[i] = (ReasonCode.SCHEMA_INVALID, self._type_detail(c, raw[c.name][i]))
        names = self._names
        for i, row in enumerate(rows):
            if i not in refusals and not names.issuperset(row):
                extra = next(k for k in row if k not in names)
                refusals[i] = (ReasonCode.SCHEMA_INVALID, f"{extra}: Extra inputs are not permitted")
        # 3. catalog ranges, vectorized per column; the first item out of range is named
        range_bad = np.zeros(n, dtype=bool)
        range_detail: dict[int, str] = {}
        for c in self._columns:
            if not c.numeric:
                continue
            col = numbers[c.name]
            above = col >= c.high if c.high_exclusive else col > c.high
            out = present[c.name] & np.isfinite(col) & ((col < c.low) | above)
            for i in np.flatnonzero(out & ~range_bad).tolist():
                range_detail[i] = f"{c.name}={float(col[i])!r} outside [{c.low}, {c.high}]"
            range_bad |= out
        all_present = np.ones(n, dtype=bool)
        for mask in present.values():
            all_present &= mask
        # double items given an int somewhere in the batch (a fast float-only column has none)
        doubles = tuple(c.name for c in self._columns
                        if c.kind == "double" and getattr(fast[c.name], "has_int", True))  # fmt: skip
        result: list[RowOutcome] = []
        for i, row in enumerate(rows):
            refused = refusals.get(i)
            if refused is not None:
                result.append(RowOutcome({}, (), *refused))
                continue
            if range_bad[i] and self._reject_range:
                result.append(RowOutcome({}, (), ReasonCode.OUT_OF_RANGE, range_detail[i]))
                continue
            values = {c.name: row[c.name] for c in self._columns if row.get(c.name) is not None}
            for name in doubles:  # a double item given an int stores a float, as pydantic did
                if name in values and type(values[name]) is not float:
                    values[name] = float(values[name])  # type: ignore[arg-type]
            flags = (
                "schema_ok",
                "range_violation" if range_bad[i] else "range_ok",
                "complete" if all_present[i] else "partial",
            )
            result.append(RowOutcome(values, flags))
        return result

    @staticmethod
    def _type_detail(c: _Column, value: object) -> str:
        if c.enum is not None and isinstance(value, str):
            options = " or ".join(repr(e) for e in sorted(c.enum))
            return f"{c.name}: Input should be {options}"
        return f"{c.name}: Input should be {_TYPE_WORDS[c.kind]}"
