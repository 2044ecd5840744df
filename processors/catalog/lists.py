"""The three catalog lists (资源清单, 共享清单, 开放清单), computed from the entries, never edited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from processors.catalog.loader import Catalog
from processors.catalog.models import AccessTerms, DatasetEntry

__all__ = ["LIST_KINDS", "ListKind", "ListRow", "compute_list"]

ListKind = Literal["resource", "share", "open"]
LIST_KINDS: tuple[ListKind, ...] = ("resource", "share", "open")


@dataclass(frozen=True, slots=True)
class ListRow:
    """One line of a list: the entry and, for share/open, the class and its terms."""

    code: str
    version: int
    name: str
    provider: str
    grade: str
    data_category: tuple[str, ...]
    access_class: str
    conditions: str | None
    scope: tuple[str, ...]
    purposes: tuple[str, ...]
    legal_basis: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "provider": self.provider,
            "grade": self.grade,
            "data_category": list(self.data_category),
            "class": self.access_class,
            "conditions": self.conditions,
            "scope": list(self.scope),
            "purposes": list(self.purposes),
            "legal_basis": self.legal_basis,
        }


def _in_list(entry: DatasetEntry, kind: ListKind) -> bool:
    # Retired entries leave every list; drafts are not yet catalogued for anyone.
    if entry.status != "published":
        return False
    if kind == "share":
        return entry.share_class != "none"
    if kind == "open":
        return entry.open_class != "none"
    return True


def _row(entry: DatasetEntry, cls: str, terms: AccessTerms | None) -> ListRow:
    return ListRow(
        code=entry.code,
        version=entry.version,
        name=entry.name,
        provider=entry.provider,
        grade=entry.grade,
        data_category=entry.data_category,
        access_class=cls,
        conditions=terms.conditions if terms else None,
        scope=terms.scope if terms else (),
        purposes=terms.purposes if terms else (),
        legal_basis=terms.legal_basis if terms else None,
    )


def compute_list(catalog: Catalog, kind: ListKind) -> tuple[ListRow, ...]:
    """Rows of one list, in code order; resource ⊇ share ⊇ open holds by construction (C16)."""
    rows = []
    for entry in catalog:
        if not _in_list(entry, kind):
            continue
        if kind == "open":
            rows.append(_row(entry, entry.open_class, entry.open_terms))
        else:
            # The resource list shows the share class: it says on what terms the resource is
            # available to other units at all.
            rows.append(_row(entry, entry.share_class, entry.share_terms))
    return tuple(rows)
