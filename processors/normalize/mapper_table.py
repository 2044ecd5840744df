"""The normalize stage's per-family mappers, built from the family registry.

The runner never discovers mappers by import side effects: each ``DeviceFamily``
(``contracts/families/``) names its mapper, and ``build_mappers`` builds the ones a deployment
runs. (Not to be confused with the device registry package ``processors.registry``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field

from contracts.families import FAMILIES, load_reference
from processors.exceptions import ConfigurationError
from processors.normalize.contract import FamilyMapper

if TYPE_CHECKING:
    from processors.catalog import Catalog
    from processors.profiles import ProfileBook

__all__ = ["MapperConfig", "build_mappers"]


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


def build_mappers(
    families: tuple[str, ...],
    config: MapperConfig,
    *,
    profiles: ProfileBook | None = None,
    catalog: Catalog | None = None,
) -> dict[str, FamilyMapper]:
    """Instantiate the mappers of ``families``; an unknown family is a configuration error.

    Each family names its mapper in its ``DeviceFamily`` (``contracts/families/``); the mapper is
    imported here, so a deployment loads only the codecs of the families it runs. Every mapper
    takes the MapperConfig and keyword ``profiles`` (shared, refreshed from the database by the
    caller; without it a mapper loads the profile files itself) and ``catalog``.
    """
    mappers: dict[str, FamilyMapper] = {}
    for family in families:
        described = FAMILIES.find(family)
        if described is None:
            msg = f"no mapper registered for family {family!r}"
            raise ConfigurationError(msg)
        factory = cast(Callable[..., FamilyMapper], load_reference(described.mapper))
        mapper = factory(config, profiles=profiles, catalog=catalog)
        if mapper.family != family:
            msg = f"{described.mapper} maps family {mapper.family!r}, not {family!r}"
            raise ConfigurationError(msg)
        mappers[family] = mapper
    return mappers
