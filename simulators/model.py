"""Values that flow from the fleet generators to the publisher, the replay file and the oracle log.

A run is an ordered stream of ``SimItem``: either a ``SimMessage`` (one MQTT publish) or a
``Control`` (a connection event such as an abrupt disconnect). Items carry *simulated* time
(``t_ms``, Unix epoch milliseconds); the publisher paces them against the wall clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MAIN_CONNECTION",
    "Control",
    "Expect",
    "SimItem",
    "SimMessage",
    "Will",
]

# Connection name shared by the V2X and agricultural fleets; Sparkplug edge nodes get their own
# connection each, because the MQTT Will (NDEATH) belongs to a connection.
MAIN_CONNECTION = "main"

Expect = Literal["data", "dlq", "quarantine", "none", "any"]
"""What the pipeline should do with a message.

``data``: rows in ``datasets``; ``dlq``: dead-lettered; ``quarantine``: parked as unknown device;
``none``: accepted but no row (e.g. NDEATH); ``any``: outcome not predictable (not checked).
"""


@dataclass(frozen=True, slots=True)
class Will:
    """MQTT Will registered when a connection is (re)opened."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One MQTT publish produced by a simulated device (immutable)."""

    t_ms: int
    topic: str
    payload: bytes
    family: str
    device_id: str
    kind: str
    qos: int = 1
    retain: bool = False
    expect: Expect = "data"
    datasets: tuple[str, ...] = ()
    connection: str = MAIN_CONNECTION
    fault: str = ""
    publish: bool = True  # False: counted in the log as not sent (e.g. an injected seq gap)
    sha256: str = field(default="")
    # dataset -> item -> value the platform should store (catalog units), for the value check
    expected_values: dict[str, dict[str, float]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.payload).hexdigest())


@dataclass(frozen=True, slots=True)
class Control:
    """A connection event in the stream.

    ``action`` ``connect`` opens (or re-opens) ``connection`` with ``will`` and optional NCMD
    subscription ``subscribe``; ``disconnect`` drops it abruptly so the broker publishes its Will.
    """

    t_ms: int
    action: Literal["connect", "disconnect"]
    connection: str
    will: Will | None = None
    subscribe: str = ""
    fault: str = ""
    device_id: str = ""
    family: str = ""


SimItem = SimMessage | Control
