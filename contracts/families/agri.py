"""Agricultural LoRaWAN sensors behind a ChirpStack v4 network server (docs/codecs-sparkplug-lorawan.md)."""

from __future__ import annotations

from contracts.families.model import DeviceFamily, TopicRoute

__all__ = ["FAMILY"]

FAMILY = DeviceFamily(
    name="agri",
    summary="LoRaWAN soil probes and weather stations via ChirpStack v4 (LPP, JSON)",
    subscriptions=("application/+/device/+/event/+",),
    routes=(
        # application/<app>/device/<devEui>/event/<event>; the devEui is lower-cased.
        TopicRoute(filter="application/+/device/+/event/+", device="{3|lower}"),
    ),
    device_id_pattern=r"[0-9a-f]{16}",
    device_id_text="a devEui of 16 lower-case hex digits",
    codec="lorawan",
    mapper="processors.normalize.mappers.agri:AgriMapper",
    profile_codecs=("cayenne_lpp", "json", "network_server_object"),
    broker_role="lns-app",
    broker_login="application",
    fleet="simulators.agri:AgriFleet",
)
