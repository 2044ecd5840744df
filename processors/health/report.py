"""Device health report: registered devices joined with their health rows (pure).

Completeness has two readings: by schedule (messages received / messages expected from the
profile's sampling interval, else the catalog entry's, over the time the device was expected to
send in the period) and by counter (received / (received + counter gaps)). A device is silent when
it was not seen for longer than ``silent_after_s`` (default: three sampling intervals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from processors.catalog import Catalog
from processors.health.store import HealthRow
from processors.normalize.catalog_view import DeviceLike
from processors.profiles import ProfileBook, parse_duration_s

__all__ = ["SILENT_INTERVALS", "DeviceHealth", "build_report", "expected_interval"]

SILENT_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """One device's health over the report period."""

    family: str
    device_id: str
    provider: str
    datasets: tuple[str, ...]
    profile: str | None
    interval_s: float | None
    last_seen: datetime | None
    silent_s: float | None  # seconds since last seen (None: never seen)
    silent: bool
    messages: int
    records: int
    expected: float | None
    completeness: float | None  # by schedule, 0..1 (capped)
    counter_gaps: int
    counter_completeness: float | None
    dead_letters: dict[str, int]
    skew_ms_mean: float | None
    skew_ms_max: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out = {k: getattr(self, k) for k in self.__slots__}
        out["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        out["datasets"] = list(self.datasets)
        return out

    @property
    def dead_letter_share(self) -> dict[str, float]:
        """Share of this device's messages dead-lettered, by reason."""
        if not self.messages:
            return {}
        return {r: n / self.messages for r, n in sorted(self.dead_letters.items())}


def expected_interval(device: DeviceLike, profiles: ProfileBook, catalog: Catalog) -> float | None:
    """Seconds between a device's messages: its profile's sampling interval, else its datasets'."""
    if device.profile:
        profile = profiles.get(device.profile, device.profile_version)
        if profile is not None and profile.interval_s() is not None:
            return profile.interval_s()
    intervals = [
        parse_duration_s(e.sampling_interval)
        for code in device.datasets
        if (e := catalog.get(code)) is not None and e.sampling_interval
    ]
    return min(intervals) if intervals else None


def build_report(
    devices: Iterable[DeviceLike],
    rows: Mapping[tuple[str, str], HealthRow],
    interval_of: Callable[[DeviceLike], float | None],
    *,
    now: datetime,
    period_s: float,
    silent_after_s: float | None = None,
) -> list[DeviceHealth]:
    """Health of every registered device over the last ``period_s`` seconds."""
    out: list[DeviceHealth] = []
    devices = list(devices)
    nodes = {d.device_id for d in devices if d.family == "iiot" and d.device_id.count("/") == 1}
    for d in devices:
        if d.family == "iiot" and d.device_id.rsplit("/", 1)[0] in nodes and d.device_id not in nodes:
            continue  # a Sparkplug device is counted under its registered edge node
        row = rows.get((d.family, d.device_id))
        interval = interval_of(d)
        last = row.last_seen if row else None
        silent_s = (now - last).total_seconds() if last else None
        limit = silent_after_s
        if limit is None and interval is not None:
            limit = SILENT_INTERVALS * interval
        silent = limit is not None and (silent_s is None or silent_s > limit)
        messages = row.messages if row else 0
        expected = completeness = None
        if interval:
            # A device first seen inside the period is only expected from then on.
            start = row.first_seen if row and row.first_seen else None
            span = period_s if start is None else min(period_s, (now - start).total_seconds())
            expected = max(1.0, span / interval)
            completeness = min(1.0, messages / expected)
        gaps = row.counter_gaps if row else 0
        counter_completeness = messages / (messages + gaps) if messages + gaps else None
        profile = f"{d.profile}@{d.profile_version}" if d.profile else None
        out.append(
            DeviceHealth(
                family=d.family,
                device_id=d.device_id,
                provider=d.provider,
                datasets=tuple(d.datasets),
                profile=profile,
                interval_s=interval,
                last_seen=last,
                silent_s=silent_s,
                silent=silent,
                messages=messages,
                records=row.records if row else 0,
                expected=expected,
                completeness=completeness,
                counter_gaps=gaps,
                counter_completeness=counter_completeness,
                dead_letters=dict(row.dead_letters) if row else {},
                skew_ms_mean=row.skew_ms_mean if row else None,
                skew_ms_max=row.skew_ms_max if row else None,
            )
        )
    return out
