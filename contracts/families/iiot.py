"""Industrial devices speaking Sparkplug B over MQTT (docs/codecs-sparkplug-lorawan.md)."""

from __future__ import annotations

from contracts.families.model import DeviceFamily, TopicRoute

__all__ = ["FAMILY"]

_LEVEL = r"[^/+#\s]+"  # a Sparkplug id is one MQTT topic level: no wildcard, no '/', not empty

FAMILY = DeviceFamily(
    name="iiot",
    summary="Sparkplug B edge nodes and devices (births, data, deaths, rebirth)",
    # One subscription for the whole namespace, so topics no route accepts are dead-lettered.
    subscriptions=("spBv1.0/#",),
    routes=(
        # Host STATE: the device id is the host application id.
        TopicRoute(filter="spBv1.0/STATE/+", device="{2}"),
        # Node messages (N*): spBv1.0/<group>/<type>/<edge>.
        TopicRoute(filter="spBv1.0/+/+/+", device="{1}/{3}"),
        # Device messages (D*): spBv1.0/<group>/<type>/<edge>/<device>.
        TopicRoute(filter="spBv1.0/+/+/+/+", device="{1}/{3}/{4}"),
    ),
    device_id_pattern=rf"{_LEVEL}/{_LEVEL}(?:/{_LEVEL})?",
    device_id_text="'<group>/<edge_node>' or '<group>/<edge_node>/<device>'",
    codec="sparkplug_b",
    mapper="processors.normalize.mappers.iiot:IiotMapper",
    profile_codecs=("sparkplug",),
    broker_role="edge-node",
    fleet="simulators.iiot:IiotFleet",
    # Sparkplug counts seq per edge node across node and device messages: every message of a node
    # is keyed by <group>/<edge> so it stays in one partition, in order, and a registered node
    # covers its devices.
    key_levels=2,
)
