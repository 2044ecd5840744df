"""The "only catalog-registered data is stored" rule (Art. 28, C1), for the normalizer and the sink.

A record may go on a data topic or into a table only when its dataset is catalogued and its
``catalog_version`` is a registered version of that dataset. Without a database snapshot (unit tests,
dry runs) the loaded catalog's own version is the only known one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from contracts.dead_letter import ReasonCode
from processors.catalog.loader import Catalog
from processors.catalog.store import registered_versions

__all__ = ["CatalogGuard", "Refusal"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a record is refused: a reason code for the dead letter and a one-line detail."""

    reason: ReasonCode
    detail: str


class CatalogGuard:
    """Answers "may records of (dataset, version) be stored?"; synchronous and in-memory.

    Not thread-safe for ``replace_registered`` racing ``check``, but each call sees either the old
    or the new snapshot (one reference swap), which is all an asyncio caller needs.
    """

    def __init__(
        self, catalog: Catalog, registered: Iterable[tuple[str, int]] | None = None
    ) -> None:
        self._catalog = catalog
        self._registered: frozenset[tuple[str, int]] | None = (
            None if registered is None else frozenset(registered)
        )

    @property
    def catalog(self) -> Catalog:
        """The catalog the guard checks against."""
        return self._catalog

    def replace_registered(self, registered: Iterable[tuple[str, int]]) -> None:
        """Swap in a new snapshot of registered versions (e.g. after ``catalog register``)."""
        self._registered = frozenset(registered)

    async def refresh(self, conn: psycopg.AsyncConnection[Any], schema: str = "sensegate") -> None:
        """Reload registered versions from the database."""
        self.replace_registered(await registered_versions(conn, schema))

    def check(self, dataset: str, version: int) -> Refusal | None:
        """None when (dataset, version) may be stored, else the refusal to dead-letter."""
        entry = self._catalog.get(dataset)
        if entry is None:
            return Refusal(ReasonCode.UNKNOWN_DATASET, f"dataset {dataset!r} is not in the catalog")
        if entry.status != "published":
            # Drafts are not catalogued yet and retired entries no longer are.
            detail = f"dataset {dataset!r} is {entry.status}, not published"
            return Refusal(ReasonCode.UNKNOWN_DATASET, detail)
        if self._registered is None:
            if version == entry.version:
                return None
            detail = f"{dataset} version {version} is not the catalog's version {entry.version}"
            return Refusal(ReasonCode.UNKNOWN_CATALOG_VERSION, detail)
        if (dataset, version) in self._registered:
            return None
        detail = f"{dataset} version {version} is not registered (run 'catalog register')"
        return Refusal(ReasonCode.UNKNOWN_CATALOG_VERSION, detail)

    def is_allowed(self, dataset: str, version: int) -> bool:
        """Shorthand for ``check(...) is None``."""
        return self.check(dataset, version) is None

    def unregistered_entries(self) -> tuple[str, ...]:
        """Codes whose loaded version is not registered (empty without a snapshot)."""
        if self._registered is None:
            return ()
        return tuple(e.code for e in self._catalog if (e.code, e.version) not in self._registered)
