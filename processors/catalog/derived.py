"""C10 derived grades: a derived entry is graded at least the highest grade of its inputs.

An evaluation record (``grade_evaluation``: who, when, method, result, grade) registered with the
entry may lower the computed grade to the evaluated one, never below it.
"""

from __future__ import annotations

from collections.abc import Mapping

from processors.catalog.models import DatasetEntry
from processors.catalog.policy import GRADE_ORDER, max_grade

__all__ = ["computed_grade", "derived_problems"]


def computed_grade(entry: DatasetEntry, by_code: Mapping[str, DatasetEntry]) -> str:
    """The grade C10 requires of ``entry``: max of its inputs, or the evaluated grade if registered.

    Inputs that are themselves derived contribute their own computed grade.
    """
    if not entry.inputs:
        return entry.grade
    if entry.grade_evaluation is not None:
        return entry.grade_evaluation.grade
    grades = []
    for code in entry.inputs:
        source = by_code.get(code)
        if source is not None and source.code != entry.code:
            grades.append(max_grade((source.grade, computed_grade(source, by_code))))
    return max_grade(grades)


def derived_problems(entry: DatasetEntry, by_code: Mapping[str, DatasetEntry]) -> list[str]:
    """C10 findings for one entry against the catalog it belongs to."""
    out: list[str] = []
    missing = [c for c in entry.inputs if c not in by_code]
    if missing:
        return [f"{entry.code}: C10: derived_inputs: {missing} are not catalogued"]
    if not entry.inputs:
        return out
    required = computed_grade(entry, by_code)
    if GRADE_ORDER[entry.grade] < GRADE_ORDER[required]:
        inputs = ", ".join(f"{c} ({by_code[c].grade})" for c in entry.inputs)
        if entry.grade_evaluation is None:
            out.append(
                f"{entry.code}: C10: grade: {entry.grade!r} is below {required!r}, the highest "
                f"grade of its inputs {inputs}; grade it {required!r} or register a "
                "grade_evaluation (evaluator, evaluated_at, method, result, grade)"
            )
        else:
            out.append(
                f"{entry.code}: C10: grade: {entry.grade!r} is below the evaluated grade "
                f"{required!r} of grade_evaluation"
            )
    return out
