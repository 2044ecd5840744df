"""Device model: one registered device as it appears on the wire, with what it may feed."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CSV_HEADER", "Device", "device_id_problem"]

# Header of the bulk-import CSV (interfaces.md §3); also the column order of ``devices list --csv``.
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

_DEV_EUI = re.compile(r"^[0-9a-f]{16}$")
# Sparkplug ids are MQTT topic levels: no wildcards, no '/', not empty.
_SP_LEVEL = re.compile(r"^[^/+#\s]+$")
_RSU_ID = re.compile(r"^[^/+#\s]{1,64}$")


def device_id_problem(family: str, device_id: str) -> str | None:
    """Why ``device_id`` is not a valid id of ``family`` as derived from MQTT topics, or None."""
    if family == "agri":
        if not _DEV_EUI.match(device_id):
            return f"agri device id must be a devEui of 16 lower-case hex digits, got {device_id!r}"
    elif family == "iiot":
        parts = device_id.split("/")
        if len(parts) not in (2, 3) or not all(_SP_LEVEL.match(p) for p in parts):
            return (
                "iiot device id must be '<group>/<edge_node>' or '<group>/<edge_node>/<device>', "
                f"got {device_id!r}"
            )
    elif not _RSU_ID.match(device_id):
        return f"v2x device id must be one MQTT topic level (the RSU id), got {device_id!r}"
    return None


class Device(BaseModel):
    """One registered device; immutable. ``datasets`` are catalog codes the device may feed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: Literal["v2x", "agri", "iiot"]
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
        if self.family != "v2x" and (self.v2x_edition is not None or self.v2x_framing):
            msg = f"v2x_edition and v2x_framing apply to v2x devices only, not {self.family}"
            raise ValueError(msg)
        if self.profile_version is not None and self.profile is None:
            msg = "profile_version needs a profile"
            raise ValueError(msg)
        if (self.lat is None) != (self.lon is None):
            msg = "lat and lon are given together or not at all"
            raise ValueError(msg)
        return self

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
