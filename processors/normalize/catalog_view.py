"""The parts of the catalog and device registry the normalizer reads, as structural types.

The concrete classes live in ``processors.catalog`` and ``processors.registry`` (docs/catalog.md);
typing against these protocols keeps the processing modules testable with plain stand-ins and
independent of how those packages store their data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = ["CatalogLike", "DeviceLike", "EntryLike", "ItemLike", "RegistryLike"]


class ItemLike(Protocol):
    """One catalog item (column) of a dataset."""

    @property
    def name(self) -> str:
        """Item name, the key in ``DatasetRecord.values``."""
        ...

    @property
    def type(self) -> str:
        """``double``, ``integer``, ``text`` or ``boolean``."""
        ...

    @property
    def min(self) -> float | None:
        """Lowest valid value in canonical units, if bounded."""
        ...

    @property
    def max(self) -> float | None:
        """Highest valid value in canonical units, if bounded."""
        ...

    @property
    def required(self) -> bool:
        """Whether every record must carry the item."""
        ...

    @property
    def sensitivity(self) -> str:
        """``none``, ``identifier``, ``location`` or ``personal``."""
        ...


class EntryLike(Protocol):
    """One catalog dataset entry."""

    @property
    def code(self) -> str:
        """Dataset code, e.g. ``agri_soil``."""
        ...

    @property
    def version(self) -> int:
        """Catalog version of the entry, stamped on every record."""
        ...

    @property
    def provider(self) -> str:
        """The one provider unit allowed to collect this dataset."""
        ...

    @property
    def items(self) -> Sequence[ItemLike]:
        """The dataset's items."""
        ...


class CatalogLike(Protocol):
    """Lookup of dataset entries by code."""

    def get(self, code: str) -> EntryLike | None:
        """The entry for ``code`` or None."""
        ...

    def route_problem(
        self, topic: str, family: str, dataset: str, allowed: Iterable[str]
    ) -> tuple[str, str] | None:
        """C1: None when the MQTT ``topic`` may feed ``dataset``, else (reason code, detail)."""
        ...


class DeviceLike(Protocol):
    """One registered device."""

    @property
    def family(self) -> str:
        """``v2x``, ``agri`` or ``iiot``."""
        ...

    @property
    def device_id(self) -> str:
        """Id as derived from the MQTT topic by the gateway."""
        ...

    @property
    def provider(self) -> str:
        """Provider unit the device collects for."""
        ...

    @property
    def datasets(self) -> tuple[str, ...]:
        """Dataset codes the device is registered to feed."""
        ...

    @property
    def codec(self) -> str | None:
        """Codec / payload profile name, family specific."""
        ...

    @property
    def v2x_edition(self) -> str | None:
        """C-V2X ASN.1 edition for RSUs."""
        ...

    @property
    def v2x_framing(self) -> bool:
        """Whether the RSU's frames carry the vendor header."""
        ...

    @property
    def industrial_id(self) -> str | None:
        """Industrial Internet identifier carried into records."""
        ...

    @property
    def lat(self) -> float | None:
        """Installed latitude, degrees."""
        ...

    @property
    def lon(self) -> float | None:
        """Installed longitude, degrees."""
        ...

    @property
    def profile(self) -> str | None:
        """Device profile name the device is bound to (``profiles/*.yaml``)."""
        ...

    @property
    def profile_version(self) -> int | None:
        """Bound profile version; None means the highest known."""
        ...


class RegistryLike(Protocol):
    """Synchronous, in-memory device lookup."""

    def lookup(self, family: str, device_id: str) -> DeviceLike | None:
        """The registered device or None."""
        ...
