"""Fault injection: the ``--faults`` option, and the byte-level faults applied to a generated stream.

Faults that need device state (clock skew, future timestamps, unknown or spoofed identity, Sparkplug
sequence gaps and missing births, edge-node disconnects) are made by the family generators; the
others (malformed, truncated, oversized, duplicate, reorder, disconnect of the shared connection) are
applied here to any family's stream. Every choice comes from a seeded generator, so a run with the
same seed and faults injects the same faults into the same messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping

from simulators.exceptions import ConfigError
from simulators.model import MAIN_CONNECTION, Control, Expect, SimItem, SimMessage
from simulators.spec import FaultRoller

__all__ = [
    "DEFAULT_OVERSIZE_BYTES",
    "FAULT_NAMES",
    "STREAM_FAULTS",
    "apply_stream_faults",
    "parse_faults",
]

FAULT_NAMES: dict[str, str] = {
    "malformed": "payload replaced by bytes no decoder accepts (expect dead letter)",
    "truncated": "payload cut to half its length (expect dead letter)",
    "duplicate": "message published twice, byte-identical (expect one stored copy)",
    "reorder": "message held back behind the next one of the same connection",
    "clock-skew": "device clock 90 s behind (still within tolerance: expect stored)",
    "future": "device timestamps 3 days ahead (expect dead letter future_timestamp)",
    "oversized": "payload padded past the gateway size limit (expect dead letter)",
    "unknown-device": "message from a device that is not registered (expect quarantine)",
    "spoof": "device publishes under another device's id (expect dead letter where detectable)",
    "seq-gap": "Sparkplug seq skips a number: the message is not published (gap to be detected)",
    "missing-birth": "Sparkplug DDATA from a device that never sent DBIRTH (expect dead letter)",
    "disconnect": "connection dropped abruptly (Sparkplug: NDEATH Will, then rebirth)",
}
STREAM_FAULTS = ("malformed", "truncated", "duplicate", "reorder", "oversized", "disconnect")
DEFAULT_OVERSIZE_BYTES = 1_200_000

# bytes that no decoder of the project accepts: not JSON, an invalid protobuf tag (wire type 7),
# and a UPER first bit that selects an unknown MessageFrame extension
_GARBAGE = b"\xff\xff\xff\xff\x0f{\x00not a valid payload"


def parse_faults(text: str | None) -> dict[str, float]:
    """Parse ``name=rate,name=rate`` (rate a probability in [0, 1]; bare ``name`` means 0.01)."""
    faults: dict[str, float] = {}
    if not text:
        return faults
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip().replace("_", "-")
        if name not in FAULT_NAMES:
            msg = f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}"
            raise ConfigError(msg)
        try:
            rate = float(value) if value else 0.01
        except ValueError as exc:
            msg = f"fault rate of {name!r} is not a number: {value!r}"
            raise ConfigError(msg) from exc
        if not 0.0 <= rate <= 1.0:
            msg = f"fault rate of {name!r} must be within [0, 1], got {rate}"
            raise ConfigError(msg)
        faults[name] = rate
    return faults


def _broken(msg: SimMessage, payload: bytes, fault: str, expect: Expect) -> SimMessage:
    return dataclasses.replace(
        msg, payload=payload, fault=fault, expect=expect, datasets=(), sha256=""
    )


def _malformed(msg: SimMessage) -> SimMessage:
    return _broken(msg, _GARBAGE + msg.payload[:8], "malformed", "dlq")


def _truncated(msg: SimMessage) -> SimMessage:
    # an unframed UPER body cut short may still decode into something: the outcome is not certain
    expect: Expect = "any" if msg.kind.endswith(":uper") else "dlq"
    return _broken(msg, msg.payload[: max(1, len(msg.payload) // 2)], "truncated", expect)


def _oversized(msg: SimMessage, size: int) -> SimMessage:
    pad = b" " if msg.payload[:1] in (b"{", b"[") else b"\x00"
    return _broken(msg, msg.payload + pad * max(0, size - len(msg.payload)), "oversized", "dlq")


def apply_stream_faults(
    items: Iterable[SimItem],
    faults: Mapping[str, float],
    seed: int,
    oversize_bytes: int = DEFAULT_OVERSIZE_BYTES,
) -> Iterator[SimItem]:
    """Apply the byte-level faults to a merged stream; passes everything through when none are set."""
    active = {k: v for k, v in faults.items() if k in STREAM_FAULTS and v > 0}
    if not active:
        yield from items
        return
    roller = FaultRoller(active, seed, "stream")
    held: dict[str, SimMessage] = {}
    for item in items:
        if isinstance(item, Control):
            yield item
            continue
        msg = item
        if msg.expect not in ("data", "none"):
            out: list[SimMessage] = [msg]  # already faulted by its generator: leave it alone
        elif roller.roll("malformed"):
            out = [_malformed(msg)]
        elif roller.roll("truncated"):
            out = [_truncated(msg)]
        elif roller.roll("oversized"):
            out = [_oversized(msg, oversize_bytes)]
        elif roller.roll("duplicate"):
            out = [msg, dataclasses.replace(msg, fault="duplicate")]
        else:
            out = [msg]
        if msg.connection == MAIN_CONNECTION and roller.roll("disconnect"):
            yield Control(msg.t_ms, "disconnect", MAIN_CONNECTION, fault="disconnect")
            yield Control(msg.t_ms, "connect", MAIN_CONNECTION)
        for one in out:
            previous = held.pop(one.connection, None)
            if previous is not None:
                yield one
                yield previous
            elif roller.roll("reorder"):
                held[one.connection] = dataclasses.replace(one, fault=one.fault or "reorder")
            else:
                yield one
    yield from held.values()
