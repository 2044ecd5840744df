"""Registry rules that need the catalog: datasets exist, one provider per dataset, valid identifiers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from processors.catalog import Catalog
from processors.registry.industrial_id import identifier_problem
from processors.registry.models import Device

if TYPE_CHECKING:
    from processors.profiles import Profile

__all__ = [
    "device_problems",
    "industrial_id_problem",
    "known_v2x_editions",
    "profile_binding_problems",
]


def industrial_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid industrial identifier (Handle style), or None."""
    problem = identifier_problem(value)
    return None if problem is None else f"industrial id {problem}"


def known_v2x_editions() -> tuple[str, ...] | None:
    """Editions the V2X codec ships, or None when the codec package is not available."""
    try:
        module = importlib.import_module("processors.codecs.v2x")
    except ImportError:
        return None
    func = getattr(module, "available_editions", None)
    return tuple(func()) if callable(func) else None


def device_problems(device: Device, catalog: Catalog) -> list[str]:
    """Every rule ``device`` breaks against ``catalog``; empty when it may be registered."""
    where = f"{device.family}/{device.device_id}"
    out: list[str] = []
    for code in device.datasets:
        entry = catalog.get(code)
        if entry is None:
            out.append(f"{where}: dataset {code!r} is not in the catalog")
            continue
        if entry.family != device.family:
            out.append(
                f"{where}: dataset {code!r} is fed by {entry.family} devices, not {device.family}"
            )
        if entry.provider != device.provider:
            out.append(
                f"{where}: provider {device.provider!r} is not the catalog provider of {code!r} "
                f"({entry.provider}); one data item has one source (一数一源)"
            )
        if entry.status == "retired":
            out.append(f"{where}: dataset {code!r} is retired")
    if device.industrial_id:
        problem = industrial_id_problem(device.industrial_id)
        if problem:
            out.append(f"{where}: {problem}")
    if device.v2x_edition is not None:
        editions = known_v2x_editions()
        if editions is not None and device.v2x_edition not in editions:
            out.append(
                f"{where}: v2x_edition {device.v2x_edition!r} is not one of {', '.join(editions)}"
            )
    return out


def profile_binding_problems(device: Device, profile: Profile) -> list[str]:
    """Why ``device`` cannot be bound to ``profile``: another family, or datasets it does not feed."""
    where = f"{device.family}/{device.device_id}"
    out: list[str] = []
    if profile.family != device.family:
        out.append(f"{where}: profile {profile.key} is for {profile.family} devices")
    missing = [d for d in profile.datasets if d not in device.datasets]
    if missing:
        out.append(
            f"{where}: profile {profile.key} feeds {', '.join(missing)}, which the device is not "
            "registered for (add them to --datasets)"
        )
    return out
