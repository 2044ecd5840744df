"""Every document the code and the docs cite exists in this repository, and so does every rule id.

Scans the repository's text sources for ``*.md`` names and ``docs/...`` paths: each must resolve to a
file inside the repository (relative to the citing file, the root or docs/; a bare name may be any
file of that name), and a ``§N`` after a document must name one of its numbered sections. Rule ids
cited anywhere (failure windows ``W3``, catalog rules ``C5``, de-identification ``P1``, fault tests
``F05``, bad inputs ``B14``) must be defined in a table row of docs/reliability.md or
docs/governance.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".in", ".sql", ".sh", ".toml", ".conf", ".proto", ".mjs"}
NAMES = {"Makefile", "Dockerfile"}
SKIP_DIRS = {"__pycache__", "node_modules", "build", "dist"}

URL = re.compile(r"\b(?:https?|kafka)://\S+")
MD_REF = re.compile(r"(?<![\w/.-])((?:\.{1,2}/|[\w-]+/)*[\w.-]+\.md)\b")
DOCS_PATH = re.compile(r"(?<![\w/.-])(docs/[\w./{}*,-]*[\w/])")
SECTION = re.compile(r"^\)?\s*§\s*(\d+(?:\.\d+)?)")
# not after "-" or ".": ASN.1 type names such as OffsetLL-B12..B24 are no rule ids
RULE_ID = re.compile(r"(?<![\w.-])(W\d{1,2}b?|C\d{1,2}|P[1-8]|F\d{2}|B\d{2})\b")
RULE_BOOKS = ("docs/reliability.md", "docs/governance.md")


def _sources() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        # prune in place: never descend into .venv, .state, .git or build output
        dirs[:] = sorted(
            d for d in dirs if not (d.startswith(".") or d in SKIP_DIRS or d.endswith(".egg-info"))
        )
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in SUFFIXES or name in NAMES:
                yield path


SOURCES = list(_sources())


def _text(path: Path) -> str:
    return URL.sub(" ", path.read_text(encoding="utf-8"))


def _resolve(citing: Path, ref: str) -> Path | None:
    for base in (citing.parent, ROOT, ROOT / "docs"):
        target = (base / ref).resolve()
        if target.is_relative_to(ROOT) and target.exists():
            return target
    if "/" not in ref:  # a bare file name, e.g. the SOURCE.md of every golden case
        return next((p for p in SOURCES if p.name == ref), None)
    return None


def _sections(doc: Path) -> set[str]:
    return set(re.findall(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", doc.read_text(encoding="utf-8"), re.M))


def test_the_scan_sees_the_code_and_the_docs() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"docs/architecture.md", "gateway/app.py", "stack/mosquitto.conf.in"} <= names
    assert not any(n.startswith((".venv/", ".state/")) for n in names)


def _problems(path: Path) -> Iterator[str]:
    text = _text(path)
    for match in MD_REF.finditer(text):
        ref = match.group(1)
        target = _resolve(path, ref)
        if target is None:
            yield f"{ref}: no such file in the repository"
            continue
        section = SECTION.match(text[match.end() :])
        if section and section.group(1) not in _sections(target):
            yield f"{ref} §{section.group(1)}: no such numbered section"
    for match in DOCS_PATH.finditer(text):
        ref = match.group(1)
        if any(c in ref for c in "{}*,"):  # a pattern such as docs/schemas/{code}.schema.json
            ref = re.split(r"[{}*,]", ref)[0].rsplit("/", 1)[0]
        if not (ROOT / ref).exists():
            yield f"{ref}: no such path in the repository"


def test_cited_documents_resolve_inside_the_repository() -> None:
    problems = [f"{p.relative_to(ROOT)}: {problem}" for p in SOURCES for problem in _problems(p)]
    assert problems == []


def test_cited_rule_ids_are_defined() -> None:
    defined = {
        m.group(1)
        for book in RULE_BOOKS
        for m in re.finditer(r"^\| (\w+) \|", (ROOT / book).read_text(encoding="utf-8"), re.M)
    }
    cited: dict[str, list[str]] = {}
    for path in SOURCES:
        if path.suffix == ".proto" or path.parts[-2:-1] == ("asn1",):
            continue
        for n, line in enumerate(_text(path).splitlines(), start=1):
            for rule in RULE_ID.findall(line):
                cited.setdefault(rule, []).append(f"{path.relative_to(ROOT)}:{n}")
    undefined = {rule: where[:3] for rule, where in cited.items() if rule not in defined}
    assert undefined == {}
    assert {"W2", "W3", "C1", "C16", "P1", "F05", "B14"} <= cited.keys()


def test_every_package_is_in_the_architecture_folder_map() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\| `([\w/]+/)` \|", text, re.M))
    packages = {
        f"{p.parent.relative_to(ROOT).as_posix()}/"
        for p in SOURCES
        if p.name == "__init__.py" and p.parent != ROOT
    }
    # test packages are mapped by their top folders (tests/unit/, tests/integration/, ...)
    packages = {p for p in packages if not p.startswith("tests/") or p.count("/") == 2}
    packages.discard("tests/")
    assert sorted(packages - mapped) == []
