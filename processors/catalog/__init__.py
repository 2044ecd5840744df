"""Public data catalog (公共数据目录): entries as code, governance rules, lists, DCAT export, registration.

Usage: ``catalog = load_catalog(); entry = catalog.get("agri_soil")``.
"""

from __future__ import annotations

from processors.catalog.exceptions import CatalogError, ChangeError, RegistrationError
from processors.catalog.guard import CatalogGuard, Refusal
from processors.catalog.lists import LIST_KINDS, ListKind, ListRow, compute_list
from processors.catalog.loader import (
    DEFAULT_CATALOG_DIR,
    Catalog,
    catalog_from_entries,
    load_catalog,
    parse_entry,
)
from processors.catalog.models import (
    AccessClass,
    AccessTerms,
    DatasetEntry,
    DeidProfile,
    DeidRule,
    Item,
    KafkaTopics,
)
from processors.catalog.store import (
    RegistrationResult,
    is_registered,
    register_catalog,
    registered_versions,
)

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "LIST_KINDS",
    "AccessClass",
    "AccessTerms",
    "Catalog",
    "CatalogError",
    "CatalogGuard",
    "ChangeError",
    "DatasetEntry",
    "DeidProfile",
    "DeidRule",
    "Item",
    "KafkaTopics",
    "ListKind",
    "ListRow",
    "Refusal",
    "RegistrationError",
    "RegistrationResult",
    "catalog_from_entries",
    "compute_list",
    "is_registered",
    "load_catalog",
    "parse_entry",
    "register_catalog",
    "registered_versions",
]
