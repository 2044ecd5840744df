"""Profile-driven field mapping: decoded LPP readings or JSON fields -> catalog items, in item units.

Pure functions over a ``ProfilePlan`` (a profile compiled against the catalog once): no I/O, no
state. A value reaches an item only through a field mapping whose units were checked at
compilation. A reading on a mapped LPP channel with another type than the profile says is refused
as ``profile_mismatch`` (the probe's layout changed: storing it would put one quantity in another's
item); fields the profile does not name are reported as unmapped and not stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from contracts.dead_letter import ReasonCode
from contracts.record import RecordValue, WireSourceValue
from processors.catalog import Catalog
from processors.codecs.lorawan.lpp import LppReading
from processors.profiles.exceptions import MappingRefused, ProfileError
from processors.profiles.models import FieldMap, Profile
from processors.profiles.units import convert
from processors.profiles.validation import field_unit, profile_problems

__all__ = [
    "FieldPlan",
    "ProfilePlan",
    "ProfileValues",
    "compile_profile",
    "map_fields",
    "map_lpp",
    "no_profile_detail",
]


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One field mapping with the units resolved against the catalog."""

    spec: FieldMap
    dataset: str
    item: str
    integer: bool
    source_unit: str | None
    target_unit: str | None
    low: float
    high: float

    @property
    def transforms(self) -> bool:
        """Whether the stored value differs from the sent one (scale, offset or unit)."""
        return (
            self.spec.scale != 1.0
            or self.spec.offset != 0.0
            or (self.source_unit or "") != (self.target_unit or "")
        )


@dataclass(frozen=True, slots=True)
class ProfilePlan:
    """A profile checked against the catalog, indexed for mapping."""

    profile: Profile
    fields: tuple[FieldPlan, ...]
    by_channel: Mapping[int, tuple[FieldPlan, ...]]
    by_path: Mapping[str, FieldPlan]


@dataclass(frozen=True, slots=True)
class ProfileValues:
    """Item values per dataset, original values of transformed items, and unmapped field names."""

    values: dict[str, dict[str, RecordValue]]
    sources: dict[str, tuple[WireSourceValue, ...]] = field(default_factory=dict)
    unmapped: tuple[str, ...] = ()


class _Device(Protocol):
    @property
    def family(self) -> str: ...

    @property
    def device_id(self) -> str: ...


def no_profile_detail(device: _Device, why: str) -> str:
    """Dead-letter detail for a device without a usable profile, naming the fixing command."""
    return (
        f"device {device.family}/{device.device_id} {why}; bind one with `python -m processors "
        f"devices add {device.family} {device.device_id} --profile NAME` "
        "(see `python -m processors profiles list`)"
    )


def compile_profile(profile: Profile, catalog: Catalog) -> ProfilePlan:
    """Check ``profile`` against ``catalog`` and index it; raises ProfileError on any problem."""
    problems = profile_problems(profile, catalog)
    if problems:
        msg = f"profile {profile.key} does not fit the catalog"
        raise ProfileError(msg, tuple(problems))
    plans: list[FieldPlan] = []
    for spec in profile.fields:
        code = spec.dataset or profile.dataset
        entry = catalog.get(code)
        item = entry.item(spec.item) if entry else None
        assert item is not None  # noqa: S101 - profile_problems checked it
        low = item.min if item.min is not None else -math.inf
        high = item.max if item.max is not None else math.inf
        plans.append(
            FieldPlan(
                spec=spec,
                dataset=code,
                item=item.name,
                integer=item.type == "integer",
                source_unit=field_unit(spec, item),
                target_unit=item.unit,
                low=max(low, spec.min) if spec.min is not None else low,
                high=min(high, spec.max) if spec.max is not None else high,
            )
        )
    by_channel: dict[int, list[FieldPlan]] = {}
    for p in plans:
        if p.spec.channel is not None:
            by_channel.setdefault(p.spec.channel, []).append(p)
    by_path = {(p.spec.path or p.spec.metric or ""): p for p in plans if p.spec.channel is None}
    return ProfilePlan(profile, tuple(plans), {k: tuple(v) for k, v in by_channel.items()}, by_path)


class _Builder:
    def __init__(self, plan: ProfilePlan) -> None:
        self.plan = plan
        self.values: dict[str, dict[str, RecordValue]] = {}
        self.sources: dict[str, list[WireSourceValue]] = {}
        self.unmapped: list[str] = []

    def put(self, fp: FieldPlan, raw: float) -> None:
        key = self.plan.profile.key
        value = raw * fp.spec.scale + fp.spec.offset
        if fp.source_unit is not None and fp.target_unit is not None:
            value = convert(value, fp.source_unit, fp.target_unit)
        if not math.isfinite(value):
            detail = f"profile {key}: {fp.spec.source} -> {fp.item} is not finite ({raw!r})"
            raise MappingRefused(ReasonCode.VALUE_NOT_FINITE, detail)
        if not fp.low <= value <= fp.high:
            detail = (
                f"profile {key}: {fp.spec.source} -> {fp.dataset}.{fp.item}={value!r} "
                f"{fp.target_unit or ''} outside the plausible range [{fp.low}, {fp.high}]"
            )
            raise MappingRefused(ReasonCode.OUT_OF_RANGE, detail)
        stored: RecordValue = value
        if fp.integer:
            if not float(value).is_integer():
                detail = (
                    f"profile {key}: {fp.spec.source} -> {fp.item} needs an integer, got {value}"
                )
                raise MappingRefused(ReasonCode.PROFILE_MISMATCH, detail)
            stored = int(value)
        self.values.setdefault(fp.dataset, {})[fp.item] = stored
        if fp.transforms:
            self.sources.setdefault(fp.dataset, []).append(
                WireSourceValue(item=fp.item, field=fp.spec.source, value=raw, unit=fp.source_unit)
            )

    def result(self, found: int) -> ProfileValues:
        if not found:
            sent = ", ".join(self.unmapped) or "nothing"
            detail = f"profile {self.plan.profile.key}: none of its fields in the payload ({sent})"
            raise MappingRefused(ReasonCode.PROFILE_MISMATCH, detail)
        return ProfileValues(
            values=self.values,
            sources={k: tuple(v) for k, v in self.sources.items()},
            unmapped=tuple(self.unmapped),
        )


def map_lpp(plan: ProfilePlan, readings: tuple[LppReading, ...]) -> ProfileValues:
    """Map LPP readings by (channel, type); raises MappingRefused (see module docstring)."""
    out = _Builder(plan)
    found = 0
    for r in readings:
        fields = plan.by_channel.get(r.channel)
        if not fields:
            out.unmapped.append(f"channel {r.channel} ({r.name})")
            continue
        expected = {f.spec.type for f in fields}
        if r.name not in expected:
            detail = (
                f"profile {plan.profile.key}: channel {r.channel} sent {r.name} (LPP type "
                f"{r.type_id}), the profile expects {' or '.join(sorted(e or '' for e in expected))}"
                " — the probe's channel layout differs from its profile"
            )
            raise MappingRefused(ReasonCode.PROFILE_MISMATCH, detail)
        for fp in fields:
            if fp.spec.type != r.name:
                continue
            if fp.spec.component is not None:
                number = (r.components or {}).get(fp.spec.component)
            else:
                number = r.value
            if number is None:
                continue
            out.put(fp, float(number))
            found += 1
    return out.result(found)


def map_fields(plan: ProfilePlan, fields: Mapping[str, object]) -> ProfileValues:
    """Map flat JSON / network-server / Sparkplug fields by path or metric name."""
    out = _Builder(plan)
    found = 0
    for name, raw in fields.items():
        fp = plan.by_path.get(name)
        if fp is None:
            out.unmapped.append(name)
            continue
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            detail = (
                f"profile {plan.profile.key}: {fp.spec.source} carries {type(raw).__name__} "
                f"{raw!r}, the profile expects a number for {fp.dataset}.{fp.item}"
            )
            raise MappingRefused(ReasonCode.PROFILE_MISMATCH, detail)
        out.put(fp, float(raw))
        found += 1
    return out.result(found)
