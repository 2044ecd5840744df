"""V2X roadside units (RSU): CSAE 53 day-one messages on the OpenV2X topic layout (docs/codecs-v2x.md)."""

from __future__ import annotations

from contracts.families.model import DeviceFamily, TopicRoute

__all__ = ["FAMILY"]

FAMILY = DeviceFamily(
    name="v2x",
    summary="roadside units: MAP, SPAT, RSM, BSM, RSI (UPER, framed UPER, JER JSON)",
    subscriptions=("V2X/RSU/+/+/UP/#",),
    routes=(
        # V2X/RSU/<rsuId>/<msgType>/UP[/<driver>...]: the driver is a vendor suffix, often empty.
        TopicRoute(filter="V2X/RSU/+/+/UP/#", device="{2}", driver="{5*}"),
    ),
    device_id_pattern=r"[^/+#\s]{1,64}",
    device_id_text="one MQTT topic level (the RSU id)",
    codec="v2x",
    mapper="processors.normalize.mappers.v2x:V2xMapper",
    profile_codecs=("uper", "v2x_json"),
    broker_role="rsu",
    fleet="simulators.v2x:V2xFleet",
    # The ASN.1 edition and the vendor framing header are chosen per RSU.
    device_fields=("v2x_edition", "v2x_framing"),
)
