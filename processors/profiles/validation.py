"""Profile rules that need the catalog: items exist and units convert to the items' units.

A mapping whose quantity cannot match (an LPP temperature into a moisture item, relative humidity
into electrical conductivity) is refused here, before any device is bound to the profile; each
problem names the field, the two units and why.
"""

from __future__ import annotations

from processors.catalog import Catalog
from processors.catalog.models import Item
from processors.codecs.lorawan.lpp import LPP_TYPES, LppType
from processors.profiles.models import FieldMap, Profile
from processors.profiles.units import UNITS, conversion_problem

__all__ = ["LPP_BY_NAME", "field_unit", "profile_problems"]

LPP_BY_NAME: dict[str, LppType] = {t.name: t for t in LPP_TYPES.values()}
# LPP types whose unit says nothing about what was measured ("some number"): the profile must say.
_GENERIC_LPP = frozenset(t.name for t in LPP_TYPES.values() if t.unit in ("1", None))
_NUMERIC = ("double", "integer")


def field_unit(field: FieldMap, item: Item) -> str | None:
    """The unit a field arrives in: declared, else its LPP type's own unit, else the item's."""
    if field.unit is not None:
        return field.unit
    spec = LPP_BY_NAME.get(field.type or "")
    if spec is not None and spec.name not in _GENERIC_LPP and spec.unit is not None:
        return spec.unit
    return item.unit


def _lpp_problems(where: str, field: FieldMap, item: Item) -> list[str]:
    spec = LPP_BY_NAME.get(field.type or "")
    if spec is None:
        known = ", ".join(sorted(LPP_BY_NAME))
        return [f"{where}: LPP type {field.type!r} is not in the LPP type table ({known})"]
    if spec.components and field.component not in spec.components:
        return [f"{where}: LPP {spec.name} needs component one of {', '.join(spec.components)}"]
    if not spec.components and field.component is not None:
        return [f"{where}: LPP {spec.name} has no components"]
    if spec.name in _GENERIC_LPP:
        if item.unit is not None and field.unit is None:
            return [
                f"{where}: LPP {spec.name} carries a bare number; declare the unit it is in "
                f"(item {item.name} is in {item.unit})"
            ]
        return []
    if spec.unit is not None and field.unit is not None:
        why = conversion_problem(spec.unit, field.unit)
        if why is not None:
            return [
                f"{where}: LPP {spec.name} always carries {spec.unit}, declared unit "
                f"{field.unit!r} cannot match: {why}"
            ]
    return []


def _field_problems(profile: Profile, field: FieldMap, catalog: Catalog) -> list[str]:
    code = field.dataset or profile.dataset
    where = f"profile {profile.key}: field {field.source} -> {code}.{field.item}"
    entry = catalog.get(code)
    if entry is None:
        return [f"{where}: dataset {code!r} is not in the catalog"]
    item = entry.item(field.item)
    if item is None:
        return [f"{where}: {code} has no item {field.item!r} ({', '.join(entry.item_names)})"]
    out: list[str] = []
    if profile.codec == "cayenne_lpp":
        out += _lpp_problems(where, field, item)
    if item.type not in _NUMERIC:
        # Profiles carry measurements; text and flags come from the family mapper itself.
        out.append(f"{where}: item {item.name} is {item.type}; profiles map numeric items only")
        return out
    source = field_unit(field, item)
    target = item.unit
    if source is not None and source not in UNITS:
        out.append(f"{where}: unit {source!r} is not a known UCUM code")
    elif target is None and source not in (None, "1"):
        out.append(
            f"{where}: unit {source!r} cannot be stored in {item.name}, which has no unit "
            "(a bare number)"
        )
    elif target is not None and source is not None:
        why = conversion_problem(source, target)
        if why is not None:
            out.append(
                f"{where}: unit {source!r} cannot be converted to the item's unit {target!r}: "
                f"{why}; the mapping would store one quantity as another"
            )
    for bound, name in ((field.min, "min"), (field.max, "max")):
        if bound is None:
            continue
        low = item.min if item.min is not None else float("-inf")
        high = item.max if item.max is not None else float("inf")
        if not low <= bound <= high:
            out.append(
                f"{where}: plausible {name} {bound} lies outside the catalog range "
                f"[{item.min}, {item.max}] {target or ''}".rstrip()
            )
    return out


def profile_problems(profile: Profile, catalog: Catalog) -> list[str]:
    """Every rule ``profile`` breaks against ``catalog``; empty when it may be registered."""
    out: list[str] = []
    for code in profile.datasets:
        entry = catalog.get(code)
        if entry is None:
            out.append(f"profile {profile.key}: dataset {code!r} is not in the catalog")
        elif entry.family != profile.family:
            out.append(
                f"profile {profile.key}: dataset {code} is fed by {entry.family} devices, "
                f"not {profile.family}"
            )
        elif entry.status == "retired":
            out.append(f"profile {profile.key}: dataset {code} is retired")
    if profile.family == "agri" and not profile.fields:
        out.append(f"profile {profile.key}: an agri profile maps at least one field")
    if profile.family == "v2x" and profile.fields:
        out.append(
            f"profile {profile.key}: V2X messages map by the CSAE standard; per-field "
            "mappings do not apply"
        )
    for field in profile.fields:
        out += _field_problems(profile, field, catalog)
    if profile.v2x_edition is not None:
        from processors.registry.validation import known_v2x_editions

        editions = known_v2x_editions()
        if editions is not None and profile.v2x_edition not in editions:
            out.append(
                f"profile {profile.key}: v2x_edition {profile.v2x_edition!r} is not one of "
                f"{', '.join(editions)}"
            )
    return out
