"""Shared helpers for the Sparkplug codec tests."""

from __future__ import annotations

from contracts.envelope import Envelope

GROUP, EDGE, DEVICE = "JilinPlant", "press-07", "pump-1"
T0 = 1767225600000


def envelope(topic: str, payload: bytes) -> Envelope:
    """A raw envelope as the gateway would build it for ``topic``."""
    parts = topic.split("/")
    device = "/".join([parts[1], *parts[3:]]) if parts[1] != "STATE" else parts[2]
    return Envelope(
        payload=payload,
        topic=topic,
        family="iiot",
        device_id=device,
        received_ns=T0 * 1_000_000,
        gateway_id="gw-test",
        qos=0,
    )


def node_topic(mtype: str, group: str = GROUP, edge: str = EDGE) -> str:
    """``spBv1.0/<group>/<mtype>/<edge>``."""
    return f"spBv1.0/{group}/{mtype}/{edge}"


def device_topic(mtype: str, device: str = DEVICE, group: str = GROUP, edge: str = EDGE) -> str:
    """``spBv1.0/<group>/<mtype>/<edge>/<device>``."""
    return f"spBv1.0/{group}/{mtype}/{edge}/{device}"
