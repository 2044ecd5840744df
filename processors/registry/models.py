"""Device model: one registered device as it appears on the wire, with what it may feed."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.families import FAMILIES, FamilyName

__all__ = ["CSV_HEADER", "Device", "device_id_problem"]

# Bulk-import CSV header (docs/catalog.md §7); also the column order of ``devices list --csv``.
CSV_HEADER: tuple[str, ...] = (
    "family",
    "device_id",
    "provider",
    "datasets",
    "codec",
    "v2x_edition",
    "v2x_framing",
    "industrial_id",
    "lat",
    "lon",
    "profile",
    "profile_version",
)


def device_id_problem(family: str, device_id: str) -> str | None:
    """Why ``device_id`` is not a valid id of ``family`` as derived from MQTT topics, or None."""
    found = FAMILIES.find(family)
    if found is None:
        return FAMILIES.name_problem(family)
    return found.device_id_problem(device_id)


class Device(BaseModel):
    """One registered device; immutable. ``datasets`` are catalog codes the device may feed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: FamilyName
    device_id: Annotated[str, Field(min_length=1, max_length=200)]
    provider: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    datasets: Annotated[tuple[str, ...], Field(min_length=1)]
    codec: Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$")] | None = None
    v2x_edition: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    v2x_framing: bool = False
    industrial_id: str | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    # device profile (profiles/*.yaml) and the registered version the device is bound to
    profile: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,62}$")] | None = None
    profile_version: Annotated[int, Field(ge=1)] | None = None

    @field_validator("datasets", mode="before")
    @classmethod
    def _split_datasets(cls, value: object) -> object:
        # The CSV and the CLI give datasets as one ';'-separated string.
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(";") if p.strip())
        return value

    @model_validator(mode="after")
    def _family_rules(self) -> Device:
        problem = device_id_problem(self.family, self.device_id)
        if problem:
            raise ValueError(problem)
        if len(set(self.datasets)) != len(self.datasets):
            msg = f"datasets repeat a code: {list(self.datasets)}"
            raise ValueError(msg)
        for other in FAMILIES.values():
            if other.name != self.family and any(self._is_set(f) for f in other.device_fields):
                fields = " and ".join(other.device_fields)
                msg = f"{fields} apply to {other.name} devices only, not {self.family}"
                raise ValueError(msg)
        if self.profile_version is not None and self.profile is None:
            msg = "profile_version needs a profile"
            raise ValueError(msg)
        if (self.lat is None) != (self.lon is None):
            msg = "lat and lon are given together or not at all"
            raise ValueError(msg)
        return self

    def _is_set(self, name: str) -> bool:
        # A family's own field is "set" when it differs from the default (None, False).
        return bool(getattr(self, name) != type(self).model_fields[name].default)

    @property
    def key(self) -> tuple[str, str]:
        """Registry key: (family, device_id)."""
        return (self.family, self.device_id)

    def to_row(self) -> dict[str, str]:
        """CSV row (strings, datasets ';'-joined) in the import format."""
        return {
            "family": self.family,
            "device_id": self.device_id,
            "provider": self.provider,
            "datasets": ";".join(self.datasets),
            "codec": self.codec or "",
            "v2x_edition": self.v2x_edition or "",
            "v2x_framing": "true" if self.v2x_framing else "false",
            "industrial_id": self.industrial_id or "",
            "lat": "" if self.lat is None else repr(self.lat),
            "lon": "" if self.lon is None else repr(self.lon),
            "profile": self.profile or "",
            "profile_version": "" if self.profile_version is None else str(self.profile_version),
        }
