"""Farm weather and soil: diurnal cycles, rain spells, irrigation, sensor drift and battery wear.

One ``Farm`` holds the weather of a site and advances in fixed one-minute steps of simulated time;
each ``Probe`` keeps its own soil water balance (drying with evapotranspiration by day, wetted by
rain and by irrigation that starts early in the morning when the field is dry) and its own slowly
drifting calibration. Local solar time is taken as UTC+8 (Jilin).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["STEP_MS", "Farm", "Probe"]

STEP_MS = 60_000
_LOCAL_OFFSET_H = 8.0
_DAY_MS = 86_400_000


def _local_hour(t_ms: int) -> float:
    return ((t_ms / 3_600_000) + _LOCAL_OFFSET_H) % 24.0


@dataclass
class Probe:
    """Soil state and calibration of one sensor (mutable, advanced by its Farm)."""

    moisture: float  # volumetric water content, %
    drift_per_day: float  # moisture bias growth, % per day
    temp_bias: float  # Cel
    battery_v: float
    solar: bool  # weather stations recharge by day
    ph_base: float
    rain_since_uplink_mm: float = 0.0


class Farm:
    """Weather of one site plus its probes; advances in one-minute steps (not thread-safe)."""

    def __init__(self, rng: random.Random, t_ms: int, base_temp: float) -> None:
        self.rng = rng
        self.t_ms = t_ms - t_ms % STEP_MS
        self.start_ms = self.t_ms
        self.base_temp = base_temp
        self.cloud = rng.uniform(0.0, 0.6)
        self.raining = False
        self.pressure = rng.uniform(1005.0, 1018.0)
        self.irrigating_until = 0
        self.probes: list[Probe] = []
        self.weather_noise = 0.0

    def add_probe(self, solar: bool) -> Probe:
        """Register a probe with its own initial moisture, drift and battery."""
        rng = self.rng
        probe = Probe(
            moisture=rng.uniform(24.0, 36.0),
            drift_per_day=rng.uniform(-0.4, 0.4),
            temp_bias=rng.uniform(-0.3, 0.3),
            battery_v=rng.uniform(3.45, 3.65),
            solar=solar,
            ph_base=rng.uniform(6.2, 7.1),
        )
        self.probes.append(probe)
        return probe

    def advance_to(self, t_ms: int) -> None:
        """Step the weather and every probe until ``t_ms`` (never backwards)."""
        while self.t_ms + STEP_MS <= t_ms:
            self.t_ms += STEP_MS
            self._step()

    def _step(self) -> None:
        rng = self.rng
        self.cloud = min(1.0, max(0.0, self.cloud + rng.gauss(0.0, 0.02)))
        # rain spells: more likely under heavy cloud, each minute may start or stop one
        if self.raining:
            self.raining = rng.random() > 1 / 90
        else:
            self.raining = rng.random() < max(0.0, self.cloud - 0.7) / 200
        self.pressure += rng.gauss(0.0, 0.03) - (0.01 if self.raining else 0.0)
        self.pressure = min(1040.0, max(985.0, self.pressure))
        self.weather_noise = 0.98 * self.weather_noise + rng.gauss(0.0, 0.05)
        hour = _local_hour(self.t_ms)
        air = self.air_temperature()
        light = self.illuminance()
        rain_mm = rng.uniform(0.01, 0.06) if self.raining else 0.0
        dry = sum(p.moisture for p in self.probes) / max(1, len(self.probes)) < 24.0
        if dry and 5.0 <= hour < 7.0 and self.t_ms >= self.irrigating_until:
            self.irrigating_until = self.t_ms + 2 * 3_600_000
        irrigation = 0.1 if self.t_ms < self.irrigating_until else 0.0  # % per minute
        for probe in self.probes:
            # evapotranspiration grows with temperature and sunlight; drainage when wet
            et = 0.0008 + 0.00002 * max(0.0, air) + light / 100_000 * 0.004
            drain = max(0.0, probe.moisture - 40.0) * 0.002
            probe.moisture += rain_mm * 0.35 + irrigation - et - drain
            probe.moisture = min(55.0, max(5.0, probe.moisture))
            probe.rain_since_uplink_mm += rain_mm
            probe.battery_v -= 0.0000015
            if probe.solar and light > 20_000:
                probe.battery_v = min(4.15, probe.battery_v + 0.00004)
            probe.battery_v = max(2.9, probe.battery_v)

    # -- observed quantities ----------------------------------------------------------------

    def air_temperature(self) -> float:
        """Air temperature, Cel: daily sine peaking mid-afternoon, cooler under cloud and rain."""
        hour = _local_hour(self.t_ms)
        diurnal = 8.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        return (
            self.base_temp
            + diurnal
            - 2.0 * self.cloud
            - (1.5 if self.raining else 0.0)
            + self.weather_noise
        )

    def air_humidity(self) -> float:
        """Relative humidity, %: high at night and in rain, low on warm afternoons."""
        value = (
            88.0
            - 2.4 * (self.air_temperature() - self.base_temp + 8.0)
            + (12.0 if self.raining else 0.0)
        )
        return min(100.0, max(12.0, value + 10 * self.cloud))

    def illuminance(self) -> float:
        """Illuminance, lx: zero at night, up to ~100 klx at noon in clear sky."""
        hour = _local_hour(self.t_ms)
        sun = math.sin(math.pi * (hour - 5.0) / 14.0) if 5.0 <= hour <= 19.0 else 0.0
        return max(0.0, 100_000 * sun * (1.0 - 0.75 * self.cloud) * (0.3 if self.raining else 1.0))

    def soil_temperature(self, probe: Probe) -> float:
        """Soil temperature at ~10 cm, Cel: damped and lagged behind the air."""
        hour = _local_hour(self.t_ms)
        return (
            self.base_temp
            - 1.0
            + 3.0 * math.sin(2 * math.pi * (hour - 12.0) / 24.0)
            + probe.temp_bias
        )

    def measured_moisture(self, probe: Probe) -> float:
        """Soil moisture as the probe reports it, %, including its calibration drift."""
        days = (self.t_ms - self.start_ms) / _DAY_MS
        return min(100.0, max(0.0, probe.moisture + probe.drift_per_day * days))

    def soil_ec(self, probe: Probe) -> float:
        """Bulk electrical conductivity, uS/cm: rises with water content."""
        return 180.0 + 22.0 * probe.moisture + 40.0 * self.weather_noise

    def soil_ph(self, probe: Probe) -> float:
        """Soil pH: nearly constant, slow drift of the electrode."""
        days = (self.t_ms - self.start_ms) / _DAY_MS
        return min(14.0, max(0.0, probe.ph_base - 0.01 * days))
