"""The device families the pipeline knows, each declared in its own module and registered here.

Adding a family: write ``contracts/families/<name>.py`` (a ``DeviceFamily``) and add one line to
``FAMILIES`` below; docs/architecture.md ("Adding a device family") lists the other files.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from contracts.families import agri, iiot, v2x
from contracts.families.model import DeviceFamily, FamilyRegistry, TopicRoute, load_reference

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "DeviceFamily",
    "FamilyName",
    "FamilyRegistry",
    "TopicRoute",
    "load_reference",
]

# Registration: one line per family; the order is the default order of CLIs and routes.
FAMILIES = FamilyRegistry(
    v2x.FAMILY,
    agri.FAMILY,
    iiot.FAMILY,
)

FAMILY_NAMES: tuple[str, ...] = FAMILIES.names

# A pydantic field type: a registered family name (the error lists the known ones).
FamilyName = Annotated[str, AfterValidator(FAMILIES.checked)]
