"""Explicit registry of the normalize stage's per-family mappers.

The runner never discovers mappers by import side effects: ``MAPPERS`` names them, and
``build_mappers`` builds the ones a deployment runs. (Not to be confused with the device registry
package ``processors.registry``.)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from processors.exceptions import ConfigurationError
from processors.normalize.contract import FamilyMapper

__all__ = ["MAPPERS", "MapperConfig", "build_mappers"]


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


# family -> "module:class"; each class takes a MapperConfig
MAPPERS: dict[str, str] = {
    "v2x": "processors.normalize.mappers.v2x:V2xMapper",
    "agri": "processors.normalize.mappers.agri:AgriMapper",
    "iiot": "processors.normalize.mappers.iiot:IiotMapper",
}


def build_mappers(families: tuple[str, ...], config: MapperConfig) -> dict[str, FamilyMapper]:
    """Instantiate the mappers of ``families``; an unknown family is a configuration error."""
    mappers: dict[str, FamilyMapper] = {}
    for family in families:
        target = MAPPERS.get(family)
        if target is None:
            msg = f"no mapper registered for family {family!r}"
            raise ConfigurationError(msg)
        module_name, _, class_name = target.partition(":")
        factory: Callable[[MapperConfig], FamilyMapper] = getattr(
            importlib.import_module(module_name), class_name
        )
        mappers[family] = factory(config)
    return mappers
