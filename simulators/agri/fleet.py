"""ChirpStack v4 uplink events of soil probes and weather stations, Cayenne LPP or plain JSON.

Topic ``application/<applicationId>/device/<devEui>/event/up``; the event is the protobuf JSON
mapping ChirpStack publishes with ``json = true``: ``deduplicationId``, ``time``, ``deviceInfo``,
``devAddr``, ``fCnt``, ``fPort``, base64 ``data``, ``rxInfo`` per gateway and ``txInfo`` (CN470).
Every sensor is one of several probe models (``simulators.agri.layouts``), each with its own
device profile and payload layout: LPP models use fPort 2 with different channel layouts and
units, the JSON model fPort 3 with vendor units in the FRMPayload, the network-server model fPort 4
with the values only in ChirpStack's decoded ``object``. Each message carries the values the
platform should store (``SimMessage.expected_values``), so a wrong mapping is caught by value.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simulators.agri.environment import Farm, Probe
from simulators.agri.layouts import Layout, layouts_for
from simulators.encoders import lorawan_codec
from simulators.model import Expect, SimMessage
from simulators.registry_csv import DeviceRow
from simulators.spec import FaultRoller, FleetSpec, family_rng, ticks
from simulators.timebase import iso_utc

__all__ = ["AGRI_DATASETS", "AgriFleet"]

PROVIDER = "jl_agri_bureau"
AGRI_DATASETS = {"soil": "agri_soil", "weather": "agri_weather"}
PORTS = {"lpp": 2, "json": 3, "object": 4}
_BASE_LAT, _BASE_LON = 43.65, 125.05  # farmland south-west of Changchun
SKEW_MS = -90_000
FUTURE_MS = 3 * 86_400_000


@dataclass
class _Sensor:
    dev_eui: str
    name: str
    kind: str  # "soil" or "weather"
    layout: Layout
    farm: Farm
    probe: Probe
    lat: float
    lon: float
    dev_addr: str
    spreading_factor: int
    gateways: tuple[tuple[str, float], ...]  # (gatewayId, distance km)
    f_cnt: int = 0


class AgriFleet:
    """Deterministic LoRaWAN fleet; ``messages()`` yields ChirpStack uplink events in time order."""

    family = "agri"

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        rng = family_rng(spec.seed, self.family)
        self.application_id = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        self.tenant_id = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        self.profiles = {
            k: str(uuid.UUID(bytes=rng.randbytes(16), version=4)) for k in ("soil", "weather")
        }
        gateways = [(rng.randbytes(8).hex(), rng.uniform(0.3, 4.0)) for _ in range(3)]
        forced = spec.options.get("agri_encoding", "mixed")
        farms = [
            Farm(family_rng(spec.seed, self.family, f"farm{i}"), spec.start_ms, rng.uniform(6, 14))
            for i in range(max(1, spec.devices // 8 + 1))
        ]
        self.sensors: list[_Sensor] = []
        for k in range(spec.devices):
            kind = "weather" if k % 4 == 3 else "soil"
            farm = farms[k // 8]
            models = layouts_for(kind, forced)
            # consecutive sensors of a kind are different models: every layout is in every fleet
            layout = models[(k // 4 if kind == "weather" else k - k // 4) % len(models)]
            picks = sorted(rng.sample(range(len(gateways)), k=rng.choice((1, 2))))
            self.sensors.append(
                _Sensor(
                    dev_eui=rng.randbytes(8).hex(),
                    name=f"{kind}-{k + 1:04d}",
                    kind=kind,
                    layout=layout,
                    farm=farm,
                    probe=farm.add_probe(solar=kind == "weather"),
                    lat=round(_BASE_LAT + (k // 8) * 0.02 + rng.uniform(-0.004, 0.004), 6),
                    lon=round(_BASE_LON + rng.uniform(-0.006, 0.006), 6),
                    dev_addr=rng.randbytes(4).hex(),
                    spreading_factor=rng.choice((7, 8, 9, 10)),
                    gateways=tuple(gateways[i] for i in picks),
                )
            )
        # The radio stream (deduplicationId, uplink ids, noise) also depends on the start time: a
        # network server never reuses a deduplicationId, so a rerun with the same seed at another
        # time must not look like a redelivery of the earlier run.
        self._rng = family_rng(spec.seed, self.family, f"radio|{spec.start_ms}")
        self._faults = FaultRoller(spec.faults, spec.seed, self.family)

    def registry(self) -> list[DeviceRow]:
        """Registry rows of every sensor."""
        return [
            DeviceRow(
                family=self.family,
                device_id=s.dev_eui,
                provider=PROVIDER,
                datasets=(AGRI_DATASETS[s.kind],),
                profile=s.layout.profile,
                lat=s.lat,
                lon=s.lon,
            )
            for s in self.sensors
        ]

    def messages(self) -> Iterator[SimMessage]:
        """The run's uplink events in time order."""
        lpp = lorawan_codec() if any(s.layout.encoding == "lpp" for s in self.sensors) else None
        for _index, t_ms, k in ticks(self.spec):
            sensor = self.sensors[k]
            sensor.farm.advance_to(t_ms)
            yield self._message(lpp, sensor, t_ms)

    def readings(self, sensor: _Sensor) -> dict[str, float]:
        """Current values of the sensor's catalog items (canonical units)."""
        farm, probe = sensor.farm, sensor.probe
        if sensor.kind == "soil":
            return {
                "soil_moisture": round(farm.measured_moisture(probe), 1),
                "soil_temperature": round(farm.soil_temperature(probe), 1),
                "soil_ec": float(round(farm.soil_ec(probe))),
                "soil_ph": round(farm.soil_ph(probe), 2),
                "battery": round(probe.battery_v, 2),
            }
        rain = round(probe.rain_since_uplink_mm, 2)
        probe.rain_since_uplink_mm = 0.0
        return {
            "air_temperature": round(farm.air_temperature() + probe.temp_bias, 1),
            "air_humidity": round(farm.air_humidity() * 2) / 2,
            "illuminance": float(round(min(65535.0, farm.illuminance()))),
            "barometric_pressure": round(farm.pressure, 1),
            "rainfall": rain,
            "battery": round(probe.battery_v, 2),
        }

    def _message(self, lpp: Any, sensor: _Sensor, t_ms: int) -> SimMessage:
        values = self.readings(sensor)
        dataset = AGRI_DATASETS[sensor.kind]
        sensor.f_cnt += 1
        fault, expect = "", "data"
        event_ms = t_ms
        if self._faults.roll("clock-skew"):
            fault, event_ms = "clock-skew", t_ms + SKEW_MS
        elif self._faults.roll("future"):
            fault, event_ms, expect = "future", t_ms + FUTURE_MS, "dlq"
        dev_eui = topic_eui = sensor.dev_eui
        if self._faults.roll("unknown-device"):
            fault, expect = "unknown-device", "quarantine"
            dev_eui = topic_eui = self._rng.randbytes(8).hex()
        elif len(self.sensors) > 1 and self._faults.roll("spoof"):
            other = self.sensors[(self.sensors.index(sensor) + 1) % len(self.sensors)]
            fault, expect, topic_eui = "spoof", "dlq", other.dev_eui
        layout = sensor.layout
        wire = layout.wire(values)
        obj: dict[str, Any] | None = None
        if layout.encoding == "lpp":
            frm: bytes = lpp.encode_lpp([(f.key, f.lpp_type, v) for f, v in wire])
        else:
            doc: dict[str, Any] = {}
            for f, v in wire:
                *parents, leaf = str(f.key).split(".")
                node = doc
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = v
            frm = json.dumps(doc, separators=(",", ":")).encode()
            obj = doc if layout.encoding == "object" else None
        event = self._event(
            sensor, dev_eui, event_ms, frm=frm, port=PORTS[layout.encoding], obj=obj
        )
        final: Expect = "data" if expect == "data" else expect  # type: ignore[assignment]
        return SimMessage(
            t_ms=t_ms,
            topic=f"application/{self.application_id}/device/{topic_eui}/event/up",
            payload=json.dumps(event, separators=(",", ":")).encode(),
            family=self.family,
            device_id=topic_eui,
            kind=f"up:{sensor.layout.encoding}",
            qos=int(self.spec.options.get("qos", "1")),
            expect=final,
            datasets=(dataset,) if final == "data" else (),
            fault=fault,
            expected_values={dataset: layout.expected(wire)} if final == "data" else None,
        )

    def _event(
        self,
        sensor: _Sensor,
        dev_eui: str,
        t_ms: int,
        *,
        frm: bytes,
        port: int,
        obj: dict[str, Any] | None,
    ) -> dict[str, Any]:
        rng = self._rng
        rx = []
        for gateway_id, distance in sensor.gateways:
            rssi = -62 - 28 * math.log10(distance + 0.05) + rng.gauss(0, 2.5)
            rx.append(
                {
                    "gatewayId": gateway_id,
                    "uplinkId": rng.randrange(1, 2**32),
                    "gwTime": iso_utc(t_ms - 40),
                    "nsTime": iso_utc(t_ms),
                    "rssi": round(rssi),
                    "snr": round(min(12.0, 9.0 + (rssi + 100) / 6 + rng.gauss(0, 1)), 1),
                    "channel": rng.randrange(8),
                    "location": {"latitude": sensor.lat + 0.01, "longitude": sensor.lon - 0.01},
                    "context": base64.b64encode(rng.randbytes(4)).decode(),
                    "metadata": {"region_config_id": "cn470_10", "region_common_name": "CN470"},
                    "crcStatus": "CRC_OK",
                }
            )
        event: dict[str, Any] = {
            "deduplicationId": str(uuid.UUID(bytes=rng.randbytes(16), version=4)),
            "time": iso_utc(t_ms),
            "deviceInfo": {
                "tenantId": self.tenant_id,
                "tenantName": "Jilin Agri Bureau",
                "applicationId": self.application_id,
                "applicationName": "soil-and-weather",
                "deviceProfileId": self.profiles[sensor.kind],
                "deviceProfileName": sensor.layout.profile,
                "deviceName": sensor.name,
                "devEui": dev_eui,
                "deviceClassEnabled": "CLASS_A",
                "tags": {"field": f"plot-{sensor.farm.base_temp:.0f}", "kind": sensor.kind},
            },
            "devAddr": sensor.dev_addr,
            "adr": True,
            "dr": 12 - sensor.spreading_factor,
            "fCnt": sensor.f_cnt,
            "fPort": port,
            "confirmed": False,
            "data": base64.b64encode(frm).decode(),
            "rxInfo": rx,
            "txInfo": {
                "frequency": 470_300_000 + 200_000 * rng.randrange(8),
                "modulation": {
                    "lora": {
                        "bandwidth": 125_000,
                        "spreadingFactor": sensor.spreading_factor,
                        "codeRate": "CR_4_5",
                    }
                },
            },
        }
        if obj is not None:
            event["object"] = obj
        return event
