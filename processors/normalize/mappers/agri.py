"""Agricultural LoRaWAN mapper: decoded uplinks -> dataset candidates through the device's profile.

The device entry binds a device profile (``profiles/*.yaml``, name and version). The profile names
the payload codec (Cayenne LPP, JSON FRMPayload or the network server's decoded ``object``) and
maps each field to a catalog item with its unit; ``processors.profiles.mapping`` does the mapping
and the unit conversion. No value reaches an item any other way: a device without a profile is
dead-lettered ``no_profile`` (the detail names the command that binds one), a reading whose type
differs from the profile's ``profile_mismatch``. Radio metadata (``f_cnt``, ``rssi``, ``snr``) is
added to every candidate whose dataset has those items.

Natural key (docs/reliability.md §3): ChirpStack ``deduplicationId`` with the devEui; TTS (dev_eui,
dev_addr, f_cnt, f_port); plain JSON (device, device time, payload SHA-256).
"""

from __future__ import annotations

from contracts.dead_letter import ReasonCode
from contracts.envelope import RawRecord
from contracts.record import GeoPoint, RecordValue
from processors.catalog import Catalog, load_catalog
from processors.codecs.lorawan.codec import LorawanCodec, LorawanConfig
from processors.codecs.lorawan.models import LorawanUplink, PayloadCodecName
from processors.normalize.catalog_view import DeviceLike
from processors.normalize.contract import Candidate, Mapped, RecordRejected
from processors.normalize.mapper_table import MapperConfig
from processors.profiles import (
    Profile,
    ProfileBook,
    ProfileError,
    ProfilePlan,
    ProfileValues,
    compile_profile,
    load_profiles,
    map_fields,
    map_lpp,
    no_profile_detail,
)

__all__ = ["AgriMapper"]

# profile codec -> what the LoRaWAN codec decodes ("none": the network server's object)
_PAYLOAD: dict[str, PayloadCodecName] = {
    "cayenne_lpp": "cayenne_lpp",
    "json": "json",
    "network_server_object": "none",
}
_RADIO = ("f_cnt", "rssi", "snr")


class AgriMapper:
    """Stateless apart from one codec per payload codec and compiled profiles."""

    family = "agri"

    def __init__(
        self,
        config: MapperConfig | None = None,
        *,
        profiles: ProfileBook | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self._config = config or MapperConfig()
        self._catalog = catalog or load_catalog(self._config.catalog_dir)
        if profiles is None:
            profiles = ProfileBook(load_profiles(self._config.profiles_dir, self._catalog))
        self.profiles = profiles
        self._plans: dict[tuple[str, int], ProfilePlan] = {}
        self._codecs = {
            name: LorawanCodec(LorawanConfig(default_codec=name))
            for name in ("cayenne_lpp", "json", "none")
        }

    def _plan(self, device: DeviceLike) -> ProfilePlan:
        name = device.profile
        version = device.profile_version
        if not name:
            raise RecordRejected(ReasonCode.NO_PROFILE, no_profile_detail(device, "has no profile"))
        profile: Profile | None = self.profiles.get(name, version)
        if profile is None:
            at = f" version {version}" if version is not None else ""
            why = f"is bound to profile {name}{at}, which is not registered"
            raise RecordRejected(ReasonCode.NO_PROFILE, no_profile_detail(device, why))
        plan = self._plans.get((profile.name, profile.version))
        if plan is None:
            try:
                plan = compile_profile(profile, self._catalog)
            except ProfileError as exc:
                why = f"is bound to profile {profile.key}, which does not fit the catalog ({exc})"
                raise RecordRejected(ReasonCode.NO_PROFILE, no_profile_detail(device, why)) from exc
            self._plans[(profile.name, profile.version)] = plan
        return plan

    def map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        """Decode one uplink and build one candidate per dataset its profile feeds."""
        env = raw.envelope
        plan = self._plan(device)
        profile = plan.profile
        if profile.family != "agri":
            why = f"is bound to profile {profile.key} of family {profile.family}"
            raise RecordRejected(ReasonCode.NO_PROFILE, no_profile_detail(device, why))
        codec = self._codecs[_PAYLOAD[profile.codec]]
        up = codec.decode(env.payload, env)  # a CodecError passes: it is a Rejected
        # a MappingRefused passes too: it is a Rejected with its own reason
        mapped = (
            map_lpp(plan, up.lpp) if profile.codec == "cayenne_lpp" else map_fields(plan, up.fields)
        )
        observed_ns = env.received_ns
        moment = up.time or next((r.time for r in up.rx if r.time is not None), None)
        if moment is not None:
            observed_ns = round(moment.timestamp() * 1_000_000) * 1000
        cands = self._candidates(raw, device, up, mapped, observed_ns, profile.key)
        codec_name = f"{codec.name}/{up.source}/{up.applied_codec}"
        return Mapped(cands, codec_name, codec.version)

    def _candidates(  # noqa: PLR0917 - one call site, all parts of one uplink
        self,
        raw: RawRecord,
        device: DeviceLike,
        up: LorawanUplink,
        mapped: ProfileValues,
        observed_ns: int,
        profile_key: str,
    ) -> tuple[Candidate, ...]:
        env = raw.envelope
        dev = (up.dev_eui or env.device_id).lower()
        if up.source == "chirpstack_v4" and up.message_id:
            key: tuple[str, ...] = (dev, "cs", up.message_id)
        elif up.source == "tts_v3":
            key = (dev, "tts", str(up.dev_addr), str(up.f_cnt), str(up.f_port))
        else:
            key = (dev, "json", str(observed_ns), f"sha256:{env.sha256}")
        rx = up.best_rx
        radio: dict[str, RecordValue] = {
            "f_cnt": up.f_cnt,
            "rssi": rx.rssi if rx else None,
            "snr": rx.snr if rx else None,
        }
        location = None
        if device.lat is not None and device.lon is not None:
            location = GeoPoint(lat=device.lat, lon=device.lon)
        out: list[Candidate] = []
        for dataset, items in mapped.values.items():
            entry = self._catalog.get(dataset)
            values = dict(items)
            for name in _RADIO:
                if entry is not None and entry.item(name) is not None and radio[name] is not None:
                    values[name] = radio[name]
            out.append(
                Candidate(
                    dataset=dataset,
                    entity_id=env.device_id,
                    key_parts=key,
                    observed_ns=observed_ns,
                    values=values,
                    location=location,
                    flags=("unmapped_fields",) if mapped.unmapped else (),
                    payload_device_id=up.dev_eui,
                    profile=profile_key,
                    source_values=mapped.sources.get(dataset, ()),
                )
            )
        return tuple(out)
