"""Golden data stays complete and inside the repository: every case folder is whole, nothing reads outside."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contracts.families import FAMILY_NAMES
from tests.fixtures.golden import DATA, cases

ROOT = DATA.parents[1]
FAMILIES = sorted(p.name for p in DATA.iterdir() if p.is_dir())
# What a test reading data from outside the clone looks like: the shared folder or a home-grown root.
OUTSIDE = re.compile(r"shared/testdata|/work/|parents\[[5-9]\]")


def test_every_registered_family_has_golden_cases() -> None:
    assert sorted(FAMILY_NAMES) == FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_case_folders_are_complete(family: str) -> None:
    for item in cases(family):  # raises on a folder without expected.json or SOURCE.md
        payloads = sorted(item.path.glob("*.hex"))
        assert payloads, f"{item}: no payload file"
        for file in payloads:
            assert item.hex(file.name), f"{file}: empty payload"
        source = (item.path / "SOURCE.md").read_text(encoding="utf-8")
        assert "Licence" in source and "Origin" in source, f"{item}: SOURCE.md names no origin/licence"


def test_no_test_or_benchmark_reads_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []
