"""Explicit registry of the normalize stage's per-family mappers, and the device-registry opener.

The runner never discovers mappers by import side effects: ``MAPPERS`` names them, and
``build_mappers`` builds the ones a deployment runs. (Not to be confused with the device registry
package ``processors.registry``.)
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from contracts.settings import DbConfig
from processors.exceptions import ConfigurationError
from processors.normalize.catalog_view import RegistryLike
from processors.normalize.contract import FamilyMapper

if TYPE_CHECKING:
    from processors.catalog import Catalog
    from processors.profiles import ProfileBook

__all__ = ["MAPPERS", "MapperConfig", "build_mappers", "open_registry"]


class MapperConfig(BaseModel):
    """Settings shared by the family mappers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sparkplug_state_dir: Path | None = None  # birth state cache; None keeps it in memory
    v2x_default_edition: str | None = None  # used when a device entry names none
    profiles_dir: Path | None = Field(
        default=None, description="device profiles directory (default: the repository's profiles/)"
    )
    catalog_dir: Path | None = Field(
        default=None, description="catalog the profiles are checked against (default: catalog/)"
    )


# family -> "module:class"; each class takes a MapperConfig and keyword ``profiles`` and ``catalog``
MAPPERS: dict[str, str] = {
    "v2x": "processors.normalize.mappers.v2x:V2xMapper",
    "agri": "processors.normalize.mappers.agri:AgriMapper",
    "iiot": "processors.normalize.mappers.iiot:IiotMapper",
}


def build_mappers(
    families: tuple[str, ...],
    config: MapperConfig,
    *,
    profiles: ProfileBook | None = None,
    catalog: Catalog | None = None,
) -> dict[str, FamilyMapper]:
    """Instantiate the mappers of ``families``; an unknown family is a configuration error.

    ``profiles`` is shared by the mappers (and refreshed from the database by the caller); without
    it each mapper loads the profile files itself.
    """
    mappers: dict[str, FamilyMapper] = {}
    for family in families:
        target = MAPPERS.get(family)
        if target is None:
            msg = f"no mapper registered for family {family!r}"
            raise ConfigurationError(msg)
        module_name, _, class_name = target.partition(":")
        factory: Callable[..., FamilyMapper] = getattr(
            importlib.import_module(module_name), class_name
        )
        mappers[family] = factory(config, profiles=profiles, catalog=catalog)
    return mappers


@asynccontextmanager
async def open_registry(db: DbConfig, *, refresh_s: float) -> AsyncIterator[RegistryLike]:
    """The PostgreSQL-backed device registry, refreshed in the background while the block runs."""
    from processors.registry import DeviceRegistry

    async with DeviceRegistry.from_file(db=db, refresh_interval_s=refresh_s) as registry:
        yield registry
