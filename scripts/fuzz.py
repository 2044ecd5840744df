"""Bounded fuzz of the input path: mutated MQTT topics and payloads through gateway and normalizer.

Seeds are the simulators' valid messages of all three families. Each input is mutated (bit flips,
cuts, random splices, random bytes, JSON tricks: duplicate keys, NaN, NUL, deep nesting, wrong
types; sometimes a wrong or non-UTF-8 topic) and goes through the gateway's ``RecordBuilder`` and,
when routed, the ``NormalizeProcessor`` of every family (real codecs, catalog and a registry of the
simulated fleet), one input per batch. Pass: no exception escapes either stage; each input ends as
records, a dead letter with a reason code, a quarantine entry, or a documented no-output message
(Sparkplug deaths and commands, repeats absorbed by the key cache). No broker, no Kafka: this fuzzes
the code behind them; the MQTT packet layer is the broker's (not fuzzed here).

``python -m scripts.fuzz --seconds 120`` (``make fuzz``) prints the figures; exit status 1 on a crash.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from contracts.dead_letter import DeadLetter
from contracts.envelope import Envelope, KafkaCoordinates, RawRecord
from contracts.families import FAMILY_NAMES
from gateway.config import GatewayConfig
from gateway.forward import RecordBuilder
from gateway.mqtt_bridge import Inbound
from gateway.routing import DEFAULT_ROUTES, Router
from processors.catalog import load_catalog
from processors.normalize.mapper_table import MapperConfig, build_mappers
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from processors.registry import Device, DeviceRegistry
from simulators import FleetConfig, SimMessage, generate, registry_csv

__all__ = ["FuzzReport", "run"]

_JSON_TRICKS = (
    lambda d: d[:-1] + b',"dup":1,"dup":2}' if d.endswith(b"}") else d,
    lambda d: d.replace(b"1", b"NaN", 1),
    lambda d: d.replace(b'"', b'"\\u0000', 1),
    lambda d: b"[" * 5000 + d + b"]" * 5000,
    lambda d: d.replace(b":", b":[", 1),
    lambda d: d.replace(b'"', b"", 2),
    lambda d: d.replace(b"0", b"1e999", 1),
    lambda d: d.replace(b"1", b"-99999999999999999999999", 1),
)


@dataclass
class FuzzReport:
    """Figures of one run; ``crashes`` holds (stage, topic, payload hex prefix, exception)."""

    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    crashes: list[tuple[str, str, str, str]] = field(default_factory=list)

    def render(self) -> str:
        """The figures as text."""
        rate = self.inputs / self.seconds if self.seconds else 0.0
        lines = [
            f"fuzz: {self.inputs} inputs in {self.seconds:.1f} s ({rate:.0f}/s), "
            f"crashes={len(self.crashes)}",
            "outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())),
            "dead-letter reasons: " + ", ".join(f"{k}={v}" for k, v in self.reasons.most_common()),
        ]
        lines += [f"CRASH in {s} on {t!r} payload {p}: {e}" for s, t, p, e in self.crashes[:10]]
        return "\n".join(lines)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(7)
    if choice == 0 and data:  # flip a few bits
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if choice == 1:  # cut
        return data[: rng.randrange(len(data) + 1)]
    if choice == 2 and data:  # splice random bytes in
        i = rng.randrange(len(data))
        return data[:i] + rng.randbytes(rng.randint(1, 32)) + data[i + rng.randint(0, 16) :]
    if choice == 3:  # pure noise
        return rng.randbytes(rng.randint(0, 512))
    if choice == 4 and data[:1] == b"{":  # JSON-specific tricks
        trick: Callable[[bytes], bytes] = rng.choice(_JSON_TRICKS)
        return trick(data)
    if choice == 5:  # the valid message itself (state machines see repeats and reorders)
        return data
    return data + rng.randbytes(rng.randint(1, 64))


def _topic(rng: random.Random, topic: str) -> tuple[str, bool]:
    """The topic, occasionally damaged; the flag is False for a topic that was not valid UTF-8."""
    roll = rng.random()
    if roll < 0.03:
        return "", False  # what the bridge passes on for a topic paho cannot decode
    if roll < 0.06:
        levels = topic.split("/")
        levels[rng.randrange(len(levels))] = rng.choice(["", "+", "#", "x" * 300, "ü"])
        return "/".join(levels), True
    if roll < 0.08:
        return rng.choice(["spBv1.0/g/NDATA", "V2X/RSU", "application/1/device"]), True
    return topic, True


def _devices(config: FleetConfig) -> list[Device]:
    rows = csv.DictReader(io.StringIO(registry_csv(config)))
    return [Device.model_validate({k: (v if v != "" else None) for k, v in r.items()}) for r in rows]


def run(
    *, seconds: float = 60.0, max_inputs: int | None = None, seed: int = 1, devices: int = 6
) -> FuzzReport:
    """Fuzz until ``seconds`` passed or ``max_inputs`` were tried; never raises for a crash."""
    rng = random.Random(seed)
    config = FleetConfig(families=FAMILY_NAMES, devices=devices, rate=20, duration_s=30, seed=seed)
    seeds = [m for m in generate(config) if isinstance(m, SimMessage)]
    catalog = load_catalog()
    processor = NormalizeProcessor(
        catalog=catalog,
        registry=DeviceRegistry(_devices(config)),
        mappers=build_mappers(FAMILY_NAMES, MapperConfig(), catalog=catalog),
        pseudonymizer=Pseudonymizer({"fuzz": SecretStr("fuzz-key-" + "x" * 24)}, "fuzz"),
        quality=QualityConfig(max_age_s=1e9),
    )
    builder = RecordBuilder(GatewayConfig(instance_id="fuzz"), Router(DEFAULT_ROUTES), "fuzz.")
    report = FuzzReport()
    started = time.monotonic()
    while time.monotonic() - started < seconds and (max_inputs is None or report.inputs < max_inputs):
        base = rng.choice(seeds)
        payload = _mutate(rng, base.payload)
        topic, valid = _topic(rng, base.topic)
        report.inputs += 1
        inbound = Inbound(
            1, report.inputs % 65535 + 1, 1, False, False, topic, valid, payload, (),
            time.time_ns(),
        )  # fmt: skip
        _one(report, builder, processor, inbound)
    report.seconds = time.monotonic() - started
    return report


def _one(
    report: FuzzReport, builder: RecordBuilder, processor: NormalizeProcessor, inbound: Inbound
) -> None:
    topic, payload, n = inbound.topic, inbound.payload, report.inputs
    try:
        out = builder.build(inbound)
        if out.reason is not None:
            report.outcomes["gateway_dead_letter"] += 1
            report.reasons[f"gateway:{DeadLetter.from_json(out.value).reason.value}"] += 1
            return
        env = Envelope.from_kafka(out.value, out.headers)
    except Exception as exc:  # the fuzz's purpose: any escape is the finding
        report.crashes.append(("gateway", topic, payload[:32].hex(), _describe(exc)))
        return
    try:
        result = processor.process([RawRecord(env, KafkaCoordinates(out.topic, 0, n))])
    except Exception as exc:  # see above
        report.crashes.append(("normalize", topic, payload[:32].hex(), _describe(exc)))
        return
    for letter in result.dead_letters:
        report.reasons[f"normalize:{letter.reason.value}"] += 1
    if result.records:
        report.outcomes["records"] += 1
    elif result.dead_letters:
        report.outcomes["normalize_dead_letter"] += 1
    elif result.quarantined:
        report.outcomes["quarantined"] += 1
    elif result.duplicates:
        report.outcomes["repeat_absorbed"] += 1
    else:
        report.outcomes["no_output"] += 1  # e.g. Sparkplug NDEATH/NCMD/STATE: no rows by design


def _describe(exc: BaseException) -> str:
    tail = traceback.format_exception(exc)[-3:]
    return f"{type(exc).__name__}: {exc} | {' '.join(t.strip() for t in tail)[:400]}"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``make fuzz``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--max-inputs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    report = run(seconds=args.seconds, max_inputs=args.max_inputs, seed=args.seed)
    print(f"seed {args.seed}")
    print(report.render())
    print(json.dumps({"inputs": report.inputs, "crashes": len(report.crashes)}))
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
