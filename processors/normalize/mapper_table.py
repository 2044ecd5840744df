"""The normalize stage's per-family mappers, built from the family registry.

The runner never discovers mappers by import side effects: each ``DeviceFamily``
(``contracts/families/``) names its mapper, and ``build_mappers`` builds the ones a deployment
runs. (Not to be confused with the device registry package ``processors.registry``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from contracts.families import FAMILIES, load_reference
from processors.exceptions import ConfigurationError
from processors.normalize.contract import FamilyMapper

__all__ = ["MapperConfig", "build_mappers"]


class MapperConfig(BaseModel):
    """Settings shared by the family mappers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sparkplug_state_dir: Path | None = None  # birth state cache; None keeps it in memory
    v2x_default_edition: str | None = None  # used when a device entry names none
    # dataset -> LPP channel -> catalog item, for Cayenne LPP probes (fields "<type>_<channel>")
    lpp_channels: dict[str, dict[int, str]] = Field(
        default_factory=lambda: {
            "agri_soil": {
                1: "soil_temperature",
                2: "soil_moisture",
                3: "soil_ec",
                4: "soil_ph",
                5: "battery",
            },
            "agri_weather": {
                1: "air_temperature",
                2: "air_humidity",
                3: "illuminance",
                4: "barometric_pressure",
                5: "rainfall",
                6: "battery",
            },
        },
        description="dataset -> Cayenne LPP channel -> catalog item (JSON)",
    )


def build_mappers(families: tuple[str, ...], config: MapperConfig) -> dict[str, FamilyMapper]:
    """Instantiate the mappers of ``families``; an unknown family is a configuration error.

    Each family names its mapper in its ``DeviceFamily`` (``contracts/families/``); the mapper is
    imported here, so a deployment loads only the codecs of the families it runs.
    """
    mappers: dict[str, FamilyMapper] = {}
    for family in families:
        described = FAMILIES.find(family)
        if described is None:
            msg = f"no mapper registered for family {family!r}"
            raise ConfigurationError(msg)
        factory = cast(Callable[[MapperConfig], FamilyMapper], load_reference(described.mapper))
        mapper = factory(config)
        if mapper.family != family:
            msg = f"{described.mapper} maps family {mapper.family!r}, not {family!r}"
            raise ConfigurationError(msg)
        mappers[family] = mapper
    return mappers
