"""Device profile models (frozen pydantic): which codec a device speaks and where each field goes.

A profile is what ChirpStack and The Things Stack call a device profile with its payload codec:
one probe model's layout. Field mappings name the source (LPP channel and type, a JSON path, a
Sparkplug metric), the catalog item it feeds and the unit it arrives in; whether units and items
agree is checked against the catalog in ``processors.profiles.validation``, not here.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.families import FAMILIES, FamilyName

__all__ = [
    "CODECS_BY_FAMILY",
    "FieldMap",
    "Profile",
    "ProfileCodec",
    "parse_duration_s",
]

ProfileCodec = Literal[
    "cayenne_lpp", "json", "network_server_object", "uper", "v2x_json", "sparkplug"
]
CODECS_BY_FAMILY: dict[str, tuple[str, ...]] = {f.name: f.profile_codecs for f in FAMILIES.values()}

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration_s(text: str) -> float:
    """Seconds of an ISO 8601 day-time duration such as ``PT15M`` or ``PT0.1S``."""
    m = _DURATION.match(text)
    if not m or text in ("P", "PT") or text.endswith("T"):
        msg = f"not an ISO 8601 day-time duration: {text!r}"
        raise ValueError(msg)
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return (
        parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )


class FieldMap(BaseModel):
    """One field of the payload and the catalog item it feeds.

    Exactly one source: ``channel`` + ``type`` (Cayenne LPP), ``path`` (JSON or network-server
    object, dotted) or ``metric`` (Sparkplug). ``unit`` is the unit the device sends (default: the
    LPP type's own unit, else the item's); ``scale``/``offset`` apply before unit conversion
    (``value * scale + offset``); ``min``/``max`` are a plausible range in the item's unit,
    narrower than the catalog's. ``dataset`` overrides the profile's dataset for this field.
    """

    model_config = _FROZEN

    item: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    dataset: str | None = None
    channel: Annotated[int, Field(ge=0, le=255)] | None = None
    type: str | None = None
    component: str | None = None
    path: Annotated[str, Field(min_length=1)] | None = None
    metric: Annotated[str, Field(min_length=1)] | None = None
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        sources = [
            name
            for name, present in (
                ("channel/type", self.channel is not None or self.type is not None),
                ("path", self.path is not None),
                ("metric", self.metric is not None),
            )
            if present
        ]
        if len(sources) != 1:
            msg = f"field {self.item}: give exactly one source (channel+type, path or metric)"
            raise ValueError(msg)
        if sources[0] == "channel/type" and (self.channel is None or self.type is None):
            msg = f"field {self.item}: an LPP field needs both channel and type"
            raise ValueError(msg)
        if self.scale == 0:
            msg = f"field {self.item}: scale 0 would erase every reading"
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"field {self.item}: min {self.min} above max {self.max}"
            raise ValueError(msg)
        return self

    @property
    def source(self) -> str:
        """Human-readable name of the source, used in errors: ``channel 2 (temperature)``."""
        if self.channel is not None:
            comp = f".{self.component}" if self.component else ""
            return f"channel {self.channel} ({self.type}{comp})"
        if self.path is not None:
            return f"path {self.path}"
        return f"metric {self.metric}"


class Profile(BaseModel):
    """One device profile version: family, payload codec, dataset and per-field mappings."""

    model_config = _FROZEN

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,62}$")]
    version: Annotated[int, Field(ge=1)]
    family: FamilyName
    codec: ProfileCodec
    dataset: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,62}$")]
    description: Annotated[str, Field(min_length=1)]
    vendor: str | None = None
    model: str | None = None
    sampling_interval: str | None = None
    # V2X: ASN.1 edition and whether frames carry the vendor header
    v2x_edition: str | None = None
    v2x_framing: bool = False
    fields: tuple[FieldMap, ...] = ()

    @field_validator("sampling_interval")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration_s(value) <= 0:
            msg = "sampling_interval must be positive"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _shape(self) -> Profile:
        allowed = CODECS_BY_FAMILY[self.family]
        if self.codec not in allowed:
            msg = f"codec {self.codec} is not a {self.family} codec (one of {', '.join(allowed)})"
            raise ValueError(msg)
        if self.family != "v2x" and (self.v2x_edition is not None or self.v2x_framing):
            msg = "v2x_edition and v2x_framing apply to v2x profiles only"
            raise ValueError(msg)
        kind = {"cayenne_lpp": "channel", "sparkplug": "metric"}.get(self.codec, "path")
        for f in self.fields:
            if (kind == "channel") != (f.channel is not None) or (kind == "metric") != (
                f.metric is not None
            ):
                msg = f"field {f.item}: a {self.codec} profile maps fields by {kind}"
                raise ValueError(msg)
        seen: set[tuple[object, ...]] = set()
        for f in self.fields:
            key = (f.channel, f.component, f.path, f.metric)
            if key in seen:
                msg = f"{f.source} is mapped twice"
                raise ValueError(msg)
            seen.add(key)
        return self

    @property
    def key(self) -> str:
        """``name@version``, as recorded in provenance."""
        return f"{self.name}@{self.version}"

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset the profile feeds: its own, then field overrides, without repeats."""
        out = [self.dataset]
        out += [f.dataset for f in self.fields if f.dataset and f.dataset not in out]
        return tuple(dict.fromkeys(out))

    def interval_s(self) -> float | None:
        """Expected seconds between uplinks, if the profile states it."""
        return parse_duration_s(self.sampling_interval) if self.sampling_interval else None

    def definition(self) -> dict[str, object]:
        """JSON-ready full definition (what is registered in the database)."""
        return self.model_dump(mode="json")

    def content_sha256(self) -> str:
        """SHA-256 of the canonical definition without its version (same idea as the catalog)."""
        doc = self.model_dump(mode="json", exclude={"version"})
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
