"""Load device profiles from ``profiles/*.yaml`` (one profile per file) and look them up by version.

``ProfileBook`` is what the normalize stage reads: every known (name, version), from the files
and, when a database is configured, from the registered history, so a device bound to an older
version keeps being decoded with exactly that version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from processors.catalog import Catalog
from processors.catalog.loader import format_validation, yaml_documents
from processors.profiles.exceptions import ProfileError
from processors.profiles.models import Profile
from processors.profiles.validation import profile_problems

__all__ = ["DEFAULT_PROFILES_DIR", "ProfileBook", "load_profiles", "parse_profile"]

logger = logging.getLogger(__name__)

DEFAULT_PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"


def parse_profile(doc: Any, where: str = "<profile>") -> Profile:
    """Validate one profile document; raises ProfileError listing every problem found."""
    if not isinstance(doc, dict):
        msg = f"{where}: a profile must be a mapping, got {type(doc).__name__}"
        raise ProfileError(msg)
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        problems = format_validation(where, exc)
        msg = f"{where}: invalid profile ({len(problems)} problem(s))"
        raise ProfileError(msg, tuple(problems)) from exc


class ProfileBook:
    """Profiles by (name, version); ``latest`` answers a binding without a version.

    Immutable snapshots replaced whole by ``add``, so a reader on the event loop always sees one
    consistent set (same pattern as the device registry).
    """

    def __init__(self, profiles: Iterable[Profile] = ()) -> None:
        self._by_key: MappingProxyType[tuple[str, int], Profile] = MappingProxyType(
            {(p.name, p.version): p for p in profiles}
        )

    def get(self, name: str, version: int | None = None) -> Profile | None:
        """The profile ``name`` at ``version`` (None: the highest version known)."""
        if version is not None:
            return self._by_key.get((name, version))
        versions = [v for (n, v) in self._by_key if n == name]
        return self._by_key[(name, max(versions))] if versions else None

    def add(self, profiles: Iterable[Profile]) -> None:
        """Add (or replace) profiles; the registered history wins over a file of the same version."""
        merged = dict(self._by_key)
        merged.update(((p.name, p.version), p) for p in profiles)
        self._by_key = MappingProxyType(merged)

    def names(self) -> tuple[str, ...]:
        """Distinct profile names, sorted."""
        return tuple(sorted({n for n, _ in self._by_key}))

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._by_key[k] for k in sorted(self._by_key))

    def __len__(self) -> int:
        return len(self._by_key)


def load_profiles(path: Path | None = None, catalog: Catalog | None = None) -> tuple[Profile, ...]:
    """Load and validate every ``*.yaml`` under ``path`` (default ``<repo>/profiles``).

    With a catalog the profiles are also checked against it (items, units). Raises ProfileError
    listing every problem of every file.
    """
    root = path or DEFAULT_PROFILES_DIR
    docs, problems = yaml_documents(root)
    profiles: list[Profile] = []
    for file, doc in docs:
        try:
            profile = parse_profile(doc, file.name)
        except ProfileError as exc:
            problems += exc.problems
            continue
        if file.stem != profile.name:
            problems.append(
                f"{file.name}: file name must be the profile name ({profile.name}.yaml)"
            )
        if catalog is not None:
            problems += [f"{file.name}: {p}" for p in profile_problems(profile, catalog)]
        profiles.append(profile)
    if problems:
        msg = f"profiles {root} rejected ({len(problems)} problem(s))"
        raise ProfileError(msg, tuple(problems))
    logger.debug("loaded %d profiles from %s", len(profiles), root)
    return tuple(profiles)
