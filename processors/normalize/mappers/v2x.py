"""V2X mapper: decoded CSAE day-one messages -> candidates of the ``v2x_*`` datasets.

| message | dataset | one candidate per |
|---|---|---|
| RSM, BSM | v2x_participant | participant (BSM: its sender) |
| SPAT | v2x_signal_phase | phase, current state only (later states are predictions) |
| RSI | v2x_road_event | event or sign |
| MAP | v2x_intersection | node |

Natural keys (docs/reliability.md §3) hold no identifiers, because they travel on the data topics in
clear: an RSM participant is keyed by its position in the message, a BSM by the payload hash.
When the event time is not anchored to a device clock (no vendor header time and no ``moy``), a
redelivery could resolve ``secMark`` into another minute, so the payload SHA-256 replaces the time.

Observation time and its clock: the message's own time (``moy``/``secMark``/``timeStamp``) when it
has one, else the vendor header time when the frame carries one (an RSI or MAP without its own
time), else the receive time. Every candidate carries the quality flag ``clock_device``,
``clock_header`` or ``clock_receive`` saying which one was used.

A device bound to a device profile takes its ASN.1 edition and framing from the profile unless the
device entry sets them itself.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
from pydantic import ValidationError

from contracts.dead_letter import ReasonCode
from contracts.envelope import Envelope, RawRecord
from contracts.record import GeoPoint, RecordValue
from processors.codecs.v2x.codec import V2xCodec, V2xCodecConfig
from processors.codecs.v2x.model import V2xMessage
from processors.normalize.catalog_view import DeviceLike
from processors.normalize.contract import Candidate, Mapped, RecordRejected
from processors.normalize.mapper_table import MapperConfig
from processors.normalize.quality import distance_m
from processors.profiles import Profile, ProfileBook, load_profiles, no_profile_detail

__all__ = ["V2xMapper"]

_NS_PER_MS = 1_000_000
DEFAULT_MAX_DISTANCE_M = 3000.0


def _ns(moment: datetime | None, fallback_ns: int) -> int:
    if moment is None:
        return fallback_ns
    return round(moment.timestamp() * 1000) * _NS_PER_MS


def _drop_none(values: dict[str, RecordValue]) -> dict[str, RecordValue]:
    return {k: v for k, v in values.items() if v is not None}


# Message types whose own time stamp has minute precision at best.
_MINUTE_ONLY = frozenset({"map", "rsi"})


class V2xMapper:
    """Decodes with a codec per (edition, framing) from the device entry; caches compiled codecs."""

    family = "v2x"

    def __init__(
        self,
        config: MapperConfig | None = None,
        *,
        max_distance_m: float | None = None,
        profiles: ProfileBook | None = None,
        catalog: object = None,
    ):
        del catalog  # V2X items follow the CSAE standard; nothing to compile per profile
        self._config = config or MapperConfig()
        self._codecs: dict[tuple[str | None, bool], V2xCodec] = {}
        self._max_distance_m = max_distance_m or DEFAULT_MAX_DISTANCE_M
        self._profiles = profiles

    def _profile(self, device: DeviceLike) -> Profile | None:
        name = device.profile
        if not name:
            return None
        if self._profiles is None:
            self._profiles = ProfileBook(load_profiles(self._config.profiles_dir))
        version = device.profile_version
        profile = self._profiles.get(name, version)
        if profile is None or profile.family != "v2x":
            why = f"is bound to profile {name}, which is not a registered v2x profile"
            raise RecordRejected(ReasonCode.NO_PROFILE, no_profile_detail(device, why))
        return profile

    def _codec(self, device: DeviceLike) -> V2xCodec:
        profile = self._profile(device)
        edition = (
            device.v2x_edition
            or (profile.v2x_edition if profile else None)
            or self._config.v2x_default_edition
        )
        key = (edition, bool(device.v2x_framing or (profile is not None and profile.v2x_framing)))
        codec = self._codecs.get(key)
        if codec is None:
            try:
                config = V2xCodecConfig(framing=key[1], **({"edition": edition} if edition else {}))
            except ValidationError as exc:
                detail = f"device {device.device_id}: {exc.errors()[0]['msg']}"
                raise RecordRejected(ReasonCode.UNSUPPORTED_MESSAGE, detail) from exc
            codec = self._codecs[key] = V2xCodec(config)
        return codec

    def map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        """Decode one RSU payload and build its candidates."""
        env = raw.envelope
        codec = self._codec(device)
        msg = codec.decode(env.payload, env)  # a CodecError passes: it is a Rejected
        claimed = _claimed_sender(msg, env.device_id)
        anchored = msg.framing is not None or msg.moy is not None
        event_ns, clock = _clock(msg, env)
        base: tuple[str, ...] = (
            env.device_id,
            msg.msg_type,
            str(event_ns) if anchored and msg.event_time is not None else f"sha256:{env.sha256}",
            str(msg.msg_cnt),
        )
        if anchored and msg.msg_type in _MINUTE_ONLY:
            # MAP and RSI carry at most a minute of the year and a msgCnt that a static message
            # repeats, so two different transmissions in one minute would share the key above; the
            # payload hash tells them apart while a redelivery (same bytes) still collapses.
            base = (*base, f"sha256:{env.sha256}")
        if msg.msg_type in ("rsm", "bsm"):
            cands = self._participants(msg, env, device, base, event_ns)
        elif msg.msg_type == "spat":
            cands = self._phases(msg, env, base, event_ns)
        elif msg.msg_type == "rsi":
            cands = self._events(msg, env, base, event_ns)
        else:
            cands = self._intersections(msg, env, base, event_ns)
        cands = [dataclasses.replace(c, flags=(*c.flags, clock)) for c in cands]
        if claimed is not None:
            cands = [dataclasses.replace(c, payload_device_id=claimed) for c in cands]
        return Mapped(tuple(cands), f"{codec.name}/{msg.edition}/{msg.encoding}", codec.version)

    def _participants(
        self,
        msg: V2xMessage,
        env: Envelope,
        device: DeviceLike,
        base: tuple[str, ...],
        event_ns: int,
    ) -> list[Candidate]:
        parts = msg.participants
        if not parts:
            return []
        ref = (device.lat, device.lon) if device.lat is not None else (msg.ref_lat, msg.ref_lon)
        flags: list[tuple[str, ...]] = [()] * len(parts)
        if ref[0] is not None and ref[1] is not None:
            lat = np.array([np.nan if p.lat is None else p.lat for p in parts], dtype=np.float64)
            lon = np.array([np.nan if p.lon is None else p.lon for p in parts], dtype=np.float64)
            far = distance_m(lat, lon, ref[0], ref[1]) > self._max_distance_m
            flags = [("position_implausible",) if f else ("position_ok",) for f in far.tolist()]
        bsm = msg.msg_type == "bsm"
        key_tail = (f"sha256:{env.sha256}",) if bsm else ()
        out: list[Candidate] = []
        for i, p in enumerate(parts):
            if bsm:
                ident = p.vehicle_id_hex or msg.sender_id_hex or ""
            else:
                # ptcId is only unique within one RSU: the pseudonym covers both
                ident = f"{env.device_id}:{p.ptc_id}"
            values = _drop_none(
                {
                    "rsu_id": env.device_id,
                    "source_msg": msg.msg_type,
                    "ptc_type": p.ptc_type,
                    "ptc_id": ident,
                    "source": p.source,
                    "lat": p.lat,
                    "lon": p.lon,
                    "elevation": p.elevation,
                    "speed": p.speed,
                    "heading": p.heading,
                    "length": p.length,
                    "width": p.width,
                    "msg_cnt": msg.msg_cnt,
                }
            )
            location = None
            if _on_earth(p.lat, p.lon):
                location = GeoPoint(lat=p.lat, lon=p.lon, elevation_m=p.elevation)
            out.append(
                Candidate(
                    dataset="v2x_participant",
                    entity_id=env.device_id,
                    key_parts=(*base, f"p{i}", *key_tail),
                    observed_ns=_ns(p.event_time, event_ns),
                    values=values,
                    location=location,
                    flags=flags[i] + (("codec_warning",) if msg.warnings else ()),
                )
            )
        return out

    @staticmethod
    def _phases(
        msg: V2xMessage, env: Envelope, base: tuple[str, ...], event_ns: int
    ) -> list[Candidate]:
        return [
            Candidate(
                dataset="v2x_signal_phase",
                entity_id=env.device_id,
                key_parts=(*base, ph.intersection_id, str(ph.phase_id)),
                observed_ns=event_ns,
                values=_drop_none(
                    {
                        "intersection_id": ph.intersection_id,
                        "phase_id": ph.phase_id,
                        "light": ph.light,
                        "start_time_s": ph.start_time_s,
                        "likely_end_time_s": ph.likely_end_time_s,
                        "next_duration_s": ph.next_duration_s,
                        "intersection_status": ph.intersection_status,
                        "msg_cnt": msg.msg_cnt,
                    }
                ),
            )
            for ph in msg.phases
            if ph.state_index == 0
        ]

    @staticmethod
    def _events(
        msg: V2xMessage, env: Envelope, base: tuple[str, ...], event_ns: int
    ) -> list[Candidate]:
        out: list[Candidate] = []
        for ev in msg.road_events:
            located = _on_earth(ev.lat, ev.lon)
            out.append(
                Candidate(
                    dataset="v2x_road_event",
                    entity_id=env.device_id,
                    key_parts=(*base, ev.kind, str(ev.local_id)),
                    observed_ns=event_ns,
                    values=_drop_none(
                        {
                            "rsu_id": env.device_id,
                            "kind": ev.kind,
                            "event_type": ev.event_type,
                            "event_source": ev.event_source,
                            "lat": ev.lat,
                            "lon": ev.lon,
                            "radius_m": ev.radius_m,
                            "priority": ev.priority,
                            "description": ev.description,
                        }
                    ),
                    location=GeoPoint(lat=ev.lat, lon=ev.lon) if located else None,
                )
            )
        return out

    @staticmethod
    def _intersections(
        msg: V2xMessage, env: Envelope, base: tuple[str, ...], event_ns: int
    ) -> list[Candidate]:
        out: list[Candidate] = []
        for node in msg.intersections:
            located = _on_earth(node.lat, node.lon)
            out.append(
                Candidate(
                    dataset="v2x_intersection",
                    entity_id=env.device_id,
                    key_parts=(*base, node.intersection_id),
                    observed_ns=event_ns,
                    values=_drop_none(
                        {
                            "intersection_id": node.intersection_id,
                            "node_name": node.node_name,
                            "lat": node.lat,
                            "lon": node.lon,
                            "link_count": node.link_count,
                            "lane_count": node.lane_count,
                        }
                    ),
                    location=GeoPoint(lat=node.lat, lon=node.lon) if located else None,
                )
            )
        return out


def _clock(msg: V2xMessage, env: Envelope) -> tuple[int, str]:
    """Observation time in ns and the flag naming its clock (see module docstring)."""
    if msg.event_time is not None:
        return _ns(msg.event_time, env.received_ns), "clock_device"
    if msg.framing is not None:
        return msg.framing.epoch_ms * _NS_PER_MS, "clock_header"
    return env.received_ns, "clock_receive"


def _claimed_sender(msg: V2xMessage, topic_id: str) -> str | None:
    """The RSU id in an RSM/RSI when it contradicts the topic's; None when absent or consistent.

    The payload id is 8 octets: JSON renderings put the first 8 UTF-8 bytes of the RSU id there,
    UPER senders an ASCII id padded with NULs, or raw bytes we compare as hex.
    """
    if msg.msg_type not in ("rsm", "rsi") or not msg.sender_id_hex:
        return None
    raw = bytes.fromhex(msg.sender_id_hex)
    if not raw.strip(b"\0"):
        return None
    topic_bytes = topic_id.encode("utf-8")
    if raw.rstrip(b"\0") == topic_bytes[:8] or msg.sender_id_hex == topic_id.lower():
        return None
    text = raw.rstrip(b"\0")
    return text.decode("ascii") if text.isascii() and text.decode().isprintable() else raw.hex()


def _on_earth(lat: float | None, lon: float | None) -> bool:
    """A usable WGS-84 position; a decoded one off the globe is dropped like a missing one (fuzz)."""
    return lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180
