"""C-V2X decode rates on one core: UPER RSM (20 participants = 16 + 4 per tick) and SPAT.

Run: ``.venv/bin/python -m benchmarks.decode_v2x [--seconds 3]``. Prints messages per CPU second for
the raw asn1tools decode, the generated C decoder (when built) and the full ``V2xCodec`` (framing,
decode, scaling, typed model), then the share of one core that 50 RSUs x 10 Hz x 20 participants
would need. Rates are per second of process CPU time, not wall time, so load on shared cores
does not skew them.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from processors.codecs.v2x import V2xCodec, build_vendor_header, encode_frame
from processors.codecs.v2x.compiled import compiled_decoder, decoder_name
from processors.codecs.v2x.schema import DEFAULT_EDITION, specification

# The genuine SPAT capture of the V2X golden tests (vendor header + UPER body).
SPAT_CAPTURE = Path(__file__).resolve().parents[1] / "tests/data/v2x/spat-capture-2020-11-14" / "frame.hex"


def _rsm(count: int) -> dict[str, Any]:
    participants = [{
        "ptcType": "motor", "ptcId": i + 1, "source": "lidar", "secMark": 40300 + i,
        "pos": {"offsetLL": ("position-LL3", {"lon": 100 * i, "lat": -50 * i})},
        "posConfidence": {"pos": "a1m"}, "speed": 625, "heading": 7200,
        "size": {"width": 185, "length": 470, "height": 30},
    } for i in range(count)]
    return {"rsmFrame": {"msgCnt": 5, "id": b"RSU00001",
                         "refPos": {"lat": 438812345, "long": 1253154321, "elevation": 2150},
                         "participants": participants}}


def _spat_body() -> bytes:
    return bytes.fromhex(SPAT_CAPTURE.read_text().strip())[18:]


def _rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(50):
            fn()
        count += 50
    return count / elapsed


def main() -> None:
    """Measure and print the decode rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    spec = specification("csae53-2019")
    codec = V2xCodec(framing=True)
    cases = {
        "RSM 16 participants": encode_frame(_rsm(16)),
        "RSM 4 participants": encode_frame(_rsm(4)),
        "SPAT 8 phases x 3 states (capture)": _spat_body(),
    }
    rates: dict[str, float] = {}
    fast = compiled_decoder(DEFAULT_EDITION)
    print(f"{'message':38} {'bytes':>6} {'asn1tools msg/s':>16} {'compiled msg/s':>15} "
          f"{'V2xCodec msg/s':>15}  (V2xCodec decodes with {decoder_name(DEFAULT_EDITION)})")
    for name, body in cases.items():
        framed = build_vendor_header("RSU00001", int(time.time() * 1000), body)
        env = Envelope(payload=framed, topic="V2X/RSU/RSU00001/RSM/UP", family="v2x",
                       device_id="RSU00001", received_ns=time.time_ns(), gateway_id="bench")
        raw = _rate(functools.partial(spec.decode, "MessageFrame", body), args.seconds)
        compiled = _rate(functools.partial(fast, body), args.seconds) if fast else float("nan")
        full = _rate(functools.partial(codec.decode, framed, env), args.seconds)
        rates[name] = full
        print(f"{name:38} {len(body):6d} {raw:16.0f} {compiled:15.0f} {full:15.0f}")
    # 50 RSUs x 10 Hz, 20 participants per tick = one RSM of 16 plus one of 4 (list max is 16)
    ticks = 50 * 10
    core = ticks / rates["RSM 16 participants"] + ticks / rates["RSM 4 participants"]
    print(f"\n50 RSU x 10 Hz x 20 participants = {2 * ticks} RSM/s, {20 * ticks} participants/s")
    print(f"share of one core needed by V2xCodec: {core:.0%}")
    spat_core = 50 * 10 / rates["SPAT 8 phases x 3 states (capture)"]
    print(f"plus SPAT from the same 50 RSUs at 10 Hz: {spat_core:.0%} of one core")


if __name__ == "__main__":
    main()
