"""Load the catalog from ``catalog/*.yaml`` (one entry per file) and enforce the cross-entry rules."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from processors.catalog.derived import derived_problems
from processors.catalog.exceptions import CatalogError
from processors.catalog.geofence import SensitiveArea, load_geofences
from processors.catalog.models import DatasetEntry
from processors.catalog.sources import overlap_problems, route_problem

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "Catalog",
    "catalog_from_entries",
    "format_validation",
    "load_catalog",
    "parse_entry",
    "yaml_documents",
]

logger = logging.getLogger(__name__)

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalog"


@dataclass(frozen=True)
class Catalog:
    """A validated catalog: entries by code, in code order. Immutable and safe to share."""

    entries: Mapping[str, DatasetEntry]
    source: Path | None = field(default=None, compare=False)
    geofences: tuple[SensitiveArea, ...] = ()

    def get(self, code: str) -> DatasetEntry | None:
        """The entry with this dataset code, if catalogued."""
        return self.entries.get(code)

    def __iter__(self) -> Iterator[DatasetEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def route_problem(
        self, topic: str, family: str, dataset: str, allowed: Iterable[str]
    ) -> tuple[str, str] | None:
        """C1 at ingest: None when ``topic`` may feed ``dataset``, else (reason code, detail)."""
        return route_problem(self, topic, family, dataset, frozenset(allowed))

    def for_family(self, family: str) -> tuple[DatasetEntry, ...]:
        """Entries fed by one device family."""
        return tuple(e for e in self if e.family == family)


def format_validation(where: str, exc: ValidationError) -> list[str]:
    """One line per pydantic error, prefixed with ``where`` and the field path."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        for line in msg.splitlines():
            out.append(f"{where}: {loc + ': ' if loc else ''}{line}")
    return out


def parse_entry(doc: Any, where: str = "<entry>") -> DatasetEntry:
    """Validate one entry document; raises CatalogError listing every problem found."""
    if not isinstance(doc, dict):
        msg = f"{where}: an entry must be a mapping, got {type(doc).__name__}"
        raise CatalogError(msg)
    try:
        return DatasetEntry.model_validate(doc)
    except ValidationError as exc:
        problems = tuple(format_validation(where, exc))
        msg = f"{where}: invalid catalog entry ({len(problems)} problem(s))"
        raise CatalogError(msg, problems) from exc


def _cross_entry_problems(entries: Iterable[DatasetEntry]) -> list[str]:
    out: list[str] = []
    entries = list(entries)
    by_code = {e.code: e for e in entries}
    tables: dict[str, str] = {}
    owners: dict[str, tuple[str, str]] = {}
    out += overlap_problems(entries)
    for entry in entries:
        out += derived_problems(entry, by_code)
        other = tables.setdefault(entry.storage_table, entry.code)
        if other != entry.code:
            out.append(f"{entry.code}: storage_table {entry.storage_table!r} is used by {other}")
        if entry.derived_from is not None and entry.derived_from not in by_code:
            out.append(f"{entry.code}: derived_from {entry.derived_from!r} is not catalogued")
        if entry.derived_from is not None:
            # A derived entry re-publishes items of its source; it is not a second source.
            continue
        for item in entry.items:
            concept = entry.concept_of(item)
            provider, code = owners.setdefault(concept, (entry.provider, entry.code))
            if provider != entry.provider:
                out.append(
                    f"{entry.code}: item {item.name!r} ({concept}) is already provided by "
                    f"{provider} in {code}; one data item has exactly one provider (一数一源) — "
                    "declare derived_from or use the existing entry"
                )
    return out


def catalog_from_entries(
    entries: Iterable[DatasetEntry],
    source: Path | None = None,
    geofences: tuple[SensitiveArea, ...] = (),
) -> Catalog:
    """Build a catalog from validated entries (and C15 sensitive areas), enforcing cross-entry rules."""
    entries = list(entries)
    problems: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.code in seen:
            problems.append(f"{entry.code}: dataset code defined more than once")
        seen.add(entry.code)
    problems += _cross_entry_problems(entries)
    if problems:
        msg = f"catalog rejected ({len(problems)} problem(s))"
        raise CatalogError(msg, tuple(problems))
    ordered = {e.code: e for e in sorted(entries, key=lambda e: e.code)}
    return Catalog(entries=MappingProxyType(ordered), source=source, geofences=geofences)


def yaml_documents(root: Path) -> tuple[list[tuple[Path, Any]], list[str]]:
    """The parsed YAML of ``root`` (a file) or of every ``*.yaml`` under it, and unreadable files."""
    files = [root] if root.is_file() else sorted(root.glob("*.yaml"))
    docs: list[tuple[Path, Any]] = []
    problems: list[str] = []
    for file in files:
        try:
            docs.append((file, yaml.safe_load(file.read_text(encoding="utf-8"))))
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{file.name}: unreadable: {exc}")
    return docs, problems


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate every ``*.yaml`` file under ``path`` (default ``<repo>/catalog``).

    ``path`` may also name a single file. Raises CatalogError listing all problems of all files.
    """
    root = path or DEFAULT_CATALOG_DIR
    docs, problems = yaml_documents(root)
    if not docs and not problems:
        msg = f"no catalog files (*.yaml) under {root}"
        raise CatalogError(msg)
    entries: list[DatasetEntry] = []
    for file, doc in docs:
        try:
            entry = parse_entry(doc, file.name)
        except CatalogError as exc:
            problems += exc.problems
            continue
        if file.stem != entry.code:
            problems.append(f"{file.name}: file name must be the dataset code ({entry.code}.yaml)")
        entries.append(entry)
    geofences: tuple[SensitiveArea, ...] = ()
    try:
        geofences = load_geofences(root) if root.is_dir() else ()
    except CatalogError as exc:
        problems += exc.problems
    try:
        catalog = catalog_from_entries(entries, source=root, geofences=geofences)
    except CatalogError as exc:
        problems += exc.problems
    if problems:
        msg = f"catalog {root} rejected ({len(problems)} problem(s))"
        raise CatalogError(msg, tuple(problems))
    logger.debug("loaded %d catalog entries from %s", len(catalog), root)
    return catalog
