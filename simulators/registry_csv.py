"""The simulated fleet as a device-registry CSV for ``python -m processors devices import``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from processors.registry.models import CSV_HEADER

__all__ = ["CSV_HEADER", "DeviceRow", "render_csv"]

# The registry owns the column order; the simulators only render rows in it.


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One simulated device as the registry should know it."""

    family: str
    device_id: str
    provider: str
    datasets: tuple[str, ...]
    codec: str = ""
    v2x_edition: str = ""
    v2x_framing: bool = False
    industrial_id: str = ""
    lat: float | None = None
    lon: float | None = None
    profile: str = ""  # bound to the highest registered version at import

    def as_csv(self) -> list[str]:
        """Cells in CSV_HEADER order."""
        return [
            self.family,
            self.device_id,
            self.provider,
            ";".join(self.datasets),
            self.codec,
            self.v2x_edition,
            "true" if self.v2x_framing else "false",
            self.industrial_id,
            "" if self.lat is None else f"{self.lat:.7f}",
            "" if self.lon is None else f"{self.lon:.7f}",
            self.profile,
            "",
        ]


def render_csv(rows: Iterable[DeviceRow]) -> str:
    """The CSV text, header first, one line per device (Unix line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(row.as_csv())
    return out.getvalue()
