"""Upstream replication figures: MirrorMaker 2 throughput and lag to a private province, on this stack.

Starts a private SCRAM-only "province" broker (the test launcher in tests/fixtures/secure_kafka.py)
and a MirrorMaker 2 node for a throwaway instance code and topic prefix, then measures
(1) lag under a steady load like the demo's and (2) replication throughput at saturation, next to
Kafka's own producer limit measured in the same run. Prints figures; asserts nothing.
Needs the stack's environment (``source .state/stack.env``); ``make bench`` runs it in full mode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from benchmarks import limits
from contracts.credential import new_credential
from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from processors.cli.federation import FederationSettings
from processors.federation import FederationConfig
from processors.federation.configure import configure_instance
from processors.federation.grants import apply_province_grants
from processors.federation.mm2 import mirror_command
from processors.federation.province_io import held
from tests.fixtures.secure_kafka import start_secure_kafka


async def _total(kafka: KafkaConfig, topic: str) -> int:
    return await held(kafka, topic)


async def _wait_upstream(up: KafkaConfig, upstream: str, at_least: int, limit_s: float) -> None:
    """Poll the upstream topic's size until it holds ``at_least`` records or ``limit_s`` passes."""
    for _ in range(int(limit_s / 0.2)):
        if await _total(up, upstream) >= at_least:
            return
        await asyncio.sleep(0.2)


async def _steady(
    src: KafkaConfig, up: KafkaConfig, topic: str, upstream: str, *, rate: int, seconds: int
) -> dict[str, float]:
    """Produce ``rate`` records/s for ``seconds`` while sampling the upstream lag twice a second."""
    producer = AIOKafkaProducer(acks="all", linger_ms=5, **src.client_kwargs())
    await producer.start()
    base_src, base_up = await _total(src, topic), await _total(up, upstream)
    sent, lags = 0, []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            tick = time.monotonic()
            for _ in range(rate // 2):
                await producer.send(topic, secrets.token_bytes(200), key=str(sent % 50).encode())
                sent += 1
            await producer.flush()
            lags.append((await _total(src, topic) - base_src) - (await _total(up, upstream) - base_up))
            await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - tick)))
    finally:
        await producer.stop()
    t1 = time.monotonic()
    await _wait_upstream(up, upstream, base_up + sent, 120)
    lags.sort()
    return {
        "rate": float(rate), "records": float(sent), "lag_p50": float(lags[len(lags) // 2]),
        "lag_max": float(lags[-1]), "drain_s": round(time.monotonic() - t1, 2),
    }


async def _saturate(up: KafkaConfig, upstream: str, target: limits.StackTarget, topic: str, count: int) -> dict[str, float]:
    """ProducerPerformance into the share topic, then time until every record is upstream."""
    base = await _total(up, upstream)
    t0 = time.monotonic()
    producer = await asyncio.to_thread(limits.kafka_producer_limit, target, count, 200, topic)
    await _wait_upstream(up, upstream, base + count, 300)
    elapsed = time.monotonic() - t0
    return {"records": float(count), "replicated_per_s": round((await _total(up, upstream) - base) / elapsed, 1),
            "producer_per_s": producer["msg_per_s"], "elapsed_s": round(elapsed, 2)}


async def _main(args: argparse.Namespace) -> int:
    env = os.environ
    operator = FederationSettings().kafka  # the stack's operator login from the environment
    admin_bootstrap = operator.bootstrap_servers
    sasl = env.get("SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP", "127.0.0.1:19095")
    tag = secrets.token_hex(3)
    code, prefix = f"bench_{tag}", f"benchrepl{tag}."
    province = await asyncio.to_thread(start_secure_kafka)
    work = Path(tempfile.mkdtemp(prefix="sensegate-bench-repl-"))
    mirror = None
    try:
        password = new_credential(18)
        await apply_province_grants(province.config(), f"instance-{code}", password, code)
        fed = FederationConfig(
            instance_code=code, upstream_bootstrap=province.bootstrap,
            upstream_security_protocol="SASL_SSL", upstream_username=f"instance-{code}",
            upstream_password=SecretStr(password), source_bootstrap=sasl,
            upstream_truststore=str(province.state / "pki" / "ca.crt"),
        )
        admin = operator.model_copy(update={"topic_prefix": prefix})
        await configure_instance(admin, fed, load_catalog(), work, replication_factor=1, register=False)
        mirror = await asyncio.to_thread(
            subprocess.Popen, mirror_command(work / "mm2.properties", work / "logs"),
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        topic = f"{prefix}share.agri_soil"
        upstream, up = f"{code}.{topic}", province.config()
        t0 = time.monotonic()
        producer = AIOKafkaProducer(**admin.client_kwargs())
        await producer.start()
        await producer.send_and_wait(topic, b"warm-up")
        await producer.stop()
        await _wait_upstream(up, upstream, 1, 120)
        print(f"MirrorMaker 2 replicating after {time.monotonic() - t0:.1f} s")
        steady = await _steady(admin, up, topic, upstream, rate=args.rate, seconds=args.seconds)
        print(f"steady {steady['rate']:.0f} records/s for {args.seconds} s: lag p50 {steady['lag_p50']:.0f} "
              f"records, max {steady['lag_max']:.0f}; drained {steady['drain_s']} s after the load stopped")
        # the SCRAM-only stack: ProducerPerformance logs in as the admin (it retries a refused
        # connection forever, so without this the step only ends at its timeout)
        target = limits.StackTarget(
            mqtt_port=0, kafka_bootstrap=admin_bootstrap, kafka_client_config=limits.admin_client_properties()
        )
        sat = await _saturate(up, upstream, target, topic, args.records)
        print(f"saturation {sat['records']:.0f} records: replicated {sat['replicated_per_s']:.0f} records/s "
              f"end to end; Kafka producer limit in the same run {sat['producer_per_s']:.0f} records/s "
              f"(ratio {sat['replicated_per_s'] / max(sat['producer_per_s'], 1):.2f})")
    finally:
        if mirror is not None:
            mirror.terminate()
            mirror.wait(timeout=30)
        province.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse options and run the replication benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replication", description=__doc__)
    parser.add_argument("--rate", type=int, default=150, help="steady load, records/s (the demo: 150)")
    parser.add_argument("--seconds", type=int, default=20, help="steady load duration")
    parser.add_argument("--records", type=int, default=100000, help="saturation run size")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
