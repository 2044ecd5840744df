"""Decode rate on one core: Sparkplug DDATA with 20 metrics, and ChirpStack v4 + Cayenne LPP uplinks.

Run: ``.venv/bin/python -m benchmarks.decode_iiot_agri [--seconds 3]``. Prints messages/s.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable

from contracts.envelope import Envelope
from processors.codecs.lorawan import LorawanCodec, LorawanConfig, encode_lpp
from processors.codecs.sparkplug import (
    DataType,
    MetricSpec,
    SparkplugCodec,
    birth_payload,
    encode_payload,
)

__all__ = ["main"]

T0 = 1767225600000
N_METRICS = 20


def _env(topic: str, payload: bytes, device: str) -> Envelope:
    return Envelope(
        payload=payload, topic=topic, family="x", device_id=device, received_ns=0, gateway_id="b"
    )


def bench_sparkplug(seconds: float) -> tuple[int, float, int]:
    """DDATA with 20 aliased Double/Int32/Boolean metrics, consecutive seq; returns (n, s, bytes)."""
    codec = SparkplugCodec()
    kinds = [(DataType.DOUBLE, 1.5), (DataType.INT32, -7), (DataType.BOOLEAN, True)]
    births = [
        MetricSpec(name=f"Line/M{i}", alias=i, datatype=kinds[i % 3][0], value=kinds[i % 3][1])
        for i in range(N_METRICS)
    ]
    nb = birth_payload([], bd_seq=0, seq=0, timestamp=T0)
    codec.decode(nb, _env("spBv1.0/G/NBIRTH/E", nb, "G/E"))
    db = birth_payload(births, seq=1, timestamp=T0)
    codec.decode(db, _env("spBv1.0/G/DBIRTH/E/D", db, "G/E/D"))
    frames = []
    for seq in range(256):
        specs = [
            MetricSpec(
                alias=i,
                value=kinds[i % 3][1],
                datatype=kinds[i % 3][0],
                timestamp=T0 + seq,
                include_datatype=False,
            )
            for i in range(N_METRICS)
        ]
        frames.append(encode_payload(specs, seq=(seq + 2) % 256, timestamp=T0 + seq))
    envs = [_env("spBv1.0/G/DDATA/E/D", f, "G/E/D") for f in frames]

    counter = iter(range(1 << 62))

    def one(_: int) -> None:
        # One running counter across warm-up and measurement keeps seq consecutive.
        i = next(counter) % 256
        msg = codec.decode(frames[i], envs[i])
        if msg.stale or msg.seq_status != "ok":
            raise AssertionError(msg.seq_status)

    n, elapsed = _run(one, seconds)
    return n, elapsed, len(frames[0])


def bench_chirpstack_lpp(seconds: float) -> tuple[int, float, int]:
    """ChirpStack v4 up event, two gateways, LPP frame with 6 readings; returns (n, s, bytes)."""
    codec = LorawanCodec(LorawanConfig(default_codec="cayenne_lpp"))
    frm = encode_lpp(
        [
            (1, "humidity", 31.5),
            (2, "temperature", 8.2),
            (3, "analog_input", 1.25),
            (4, "voltage", 3.6),
            (5, "illuminance", 5400),
            (6, "barometric_pressure", 1008.7),
        ]
    )
    doc = {
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        "time": "2026-01-01T00:00:00.123456Z",
        "deviceInfo": {
            "tenantName": "t",
            "applicationId": "d5b5c4a9-1b0f-4c52-8d3e-3a2b9a6f1e11",
            "deviceProfileName": "soil-lpp",
            "deviceName": "soil-07",
            "devEui": "0004a30b001c0530",
            "tags": {"field": "north-3"},
        },
        "devAddr": "01fa3b2c",
        "fCnt": 42,
        "fPort": 85,
        "data": base64.b64encode(frm).decode(),
        "rxInfo": [
            {
                "gatewayId": "0016c001ff10a235",
                "nsTime": "2026-01-01T00:00:00.12Z",
                "rssi": -97,
                "snr": 7.5,
            },
            {
                "gatewayId": "0016c001ff10a236",
                "nsTime": "2026-01-01T00:00:00.12Z",
                "rssi": -110,
                "snr": -3,
            },
        ],
        "txInfo": {"frequency": 470300000, "modulation": {"lora": {"spreadingFactor": 7}}},
    }
    payload = json.dumps(doc).encode()
    env = _env("application/a/device/0004a30b001c0530/event/up", payload, "0004a30b001c0530")

    def one(_: int) -> None:
        codec.decode(payload, env)

    n, elapsed = _run(one, seconds)
    return n, elapsed, len(payload)


def _run(step: Callable[[int], None], seconds: float) -> tuple[int, float]:
    for i in range(200):  # warm-up
        step(i)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            step(n)
            n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n, now - start


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per benchmark")
    args = parser.parse_args(argv)
    for label, bench in (
        (f"Sparkplug DDATA, {N_METRICS} metrics (alias-resolved, seq-checked)", bench_sparkplug),
        ("ChirpStack v4 uplink + Cayenne LPP (6 readings, 2 gateways)", bench_chirpstack_lpp),
    ):
        n, elapsed, size = bench(args.seconds)
        rate = n / elapsed
        print(f"{label}: {rate:,.0f} msg/s ({1e6 / rate:.1f} us/msg, {size} B payload, n={n})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
