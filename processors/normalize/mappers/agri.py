"""Agricultural LoRaWAN mapper: decoded uplinks -> candidates of ``agri_soil`` / ``agri_weather``.

The device entry names the payload codec (``codec`` containing ``lpp`` -> Cayenne LPP, ``json`` ->
JSON FRMPayload, otherwise the network server's decoded object). Decoded fields map to catalog items
by name, or for LPP ``<type>_<channel>`` fields through a per-dataset channel map (the deployed
probes' convention, configurable in ``MapperConfig.lpp_channels``). Fields that map to no item are
not stored and the record is flagged ``unmapped_fields``.

Natural key (docs/reliability.md §3): ChirpStack ``deduplicationId`` with the devEui; TTS (dev_eui,
dev_addr, f_cnt, f_port); plain JSON (device, device time, payload SHA-256).
"""

from __future__ import annotations

import re

from contracts.dead_letter import ReasonCode
from contracts.envelope import RawRecord
from contracts.record import GeoPoint, RecordValue
from processors.codecs.lorawan.codec import LorawanCodec, LorawanConfig
from processors.codecs.lorawan.models import LorawanUplink, PayloadCodecName
from processors.normalize.catalog_view import DeviceLike
from processors.normalize.contract import Candidate, Mapped, RecordRejected
from processors.normalize.mapper_table import MapperConfig

__all__ = ["AGRI_DATASETS", "AgriMapper"]

AGRI_DATASETS = ("agri_soil", "agri_weather")
_LPP_FIELD = re.compile(r"^[a-z_]+_(\d+)$")


def payload_codec(device_codec: str | None) -> PayloadCodecName:
    """Payload codec for a registry codec/profile name such as ``chirpstack_lpp``."""
    name = (device_codec or "").lower()
    if "lpp" in name or "cayenne" in name:
        return "cayenne_lpp"
    if "json" in name:
        return "json"
    return "none"


class AgriMapper:
    """Stateless apart from one codec instance per payload codec."""

    family = "agri"

    def __init__(self, config: MapperConfig | None = None) -> None:
        self._config = config or MapperConfig()
        self._codecs = {
            name: LorawanCodec(LorawanConfig(default_codec=name))
            for name in ("cayenne_lpp", "json", "none")
        }

    def map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        """Decode one uplink and build its single candidate."""
        env = raw.envelope
        codec = self._codecs[payload_codec(device.codec)]
        up = codec.decode(env.payload, env)  # a CodecError passes: it is a Rejected
        dataset, values, unmapped = self._values(up, device)
        rx = up.best_rx
        if up.f_cnt is not None:
            values["f_cnt"] = up.f_cnt
        if rx is not None:
            values["rssi"] = rx.rssi
            values["snr"] = rx.snr
        moment = up.time or next((r.time for r in up.rx if r.time is not None), None)
        observed_ns = env.received_ns
        if moment is not None:
            observed_ns = round(moment.timestamp() * 1_000_000) * 1000
        dev = (up.dev_eui or env.device_id).lower()
        if up.source == "chirpstack_v4" and up.message_id:
            key: tuple[str, ...] = (dev, "cs", up.message_id)
        elif up.source == "tts_v3":
            key = (dev, "tts", str(up.dev_addr), str(up.f_cnt), str(up.f_port))
        else:
            key = (dev, "json", str(observed_ns), f"sha256:{env.sha256}")
        location = None
        if device.lat is not None and device.lon is not None:
            location = GeoPoint(lat=device.lat, lon=device.lon)
        cand = Candidate(
            dataset=dataset,
            entity_id=env.device_id,
            key_parts=key,
            observed_ns=observed_ns,
            values={k: v for k, v in values.items() if v is not None},
            location=location,
            flags=("unmapped_fields",) if unmapped else (),
            payload_device_id=up.dev_eui,
        )
        codec_name = f"{codec.name}/{up.source}/{up.applied_codec}"
        return Mapped((cand,), codec_name, codec.version)

    def _values(
        self, up: LorawanUplink, device: DeviceLike
    ) -> tuple[str, dict[str, RecordValue], list[str]]:
        channels = self._config.lpp_channels
        candidates = [d for d in device.datasets if d in AGRI_DATASETS] or list(AGRI_DATASETS)
        best: tuple[str, dict[str, RecordValue], list[str]] | None = None
        for dataset in candidates:
            items = _ITEMS[dataset]
            chan = channels.get(dataset, {})
            values: dict[str, RecordValue] = {}
            unmapped: list[str] = []
            for name, value in up.fields.items():
                item = name if name in items else None
                if item is None and up.applied_codec == "cayenne_lpp":
                    m = _LPP_FIELD.match(name)
                    item = chan.get(int(m.group(1))) if m else None
                if item is None:
                    unmapped.append(name)
                else:
                    values[item] = value
            if best is None or len(values) > len(best[1]):
                best = (dataset, values, unmapped)
        if best is None or not best[1]:
            fields = ", ".join(sorted(up.fields)) or "none"
            detail = f"no {'/'.join(candidates)} item among the decoded fields ({fields})"
            raise RecordRejected(ReasonCode.MISSING_REQUIRED, detail)
        return best


_ITEMS: dict[str, frozenset[str]] = {
    "agri_soil": frozenset({"soil_moisture", "soil_temperature", "soil_ec", "soil_ph", "battery"}),
    "agri_weather": frozenset(
        {
            "air_temperature",
            "air_humidity",
            "illuminance",
            "rainfall",
            "barometric_pressure",
            "battery",
        }
    ),
}
