"""Gateway ingest benchmark: sustained QoS 1 rate vs the C client, and RSS under a 10x overload.

Method (loopback only, bounded): both subscribers hold persistent MQTT v5 sessions on the same
topic; ``mosquitto_pub -l`` (C) loads N 200-byte QoS 1 messages, which the broker queues for both
sessions. Then each drains the same backlog alone: the C client ``mosquitto_sub`` (acks on
receipt), rated from the receive stamps of its first and last message, and the gateway (acks only
after Kafka ``acks=all``), rated from its first to its last PUBACK (acked counter polled every
20 ms), so neither figure includes process start-up. This is repeated ``--rounds`` times and the
median ratio printed. Every client authenticates (a throwaway benchmark identity, as the broker
refuses anonymous clients); a second gateway session drains the same backlog over the broker's TLS
listener, so the TLS cost is printed as a ratio of the same run. Finally a backlog of 10 x N
messages is drained by the gateway while its RSS is sampled.

Topics ``sensegate-bench/<run>/RSU/UP`` are routed (as v2x) by a route of the benchmark's gateway
only, so a platform gateway on the same broker never sees them.

The C client's start-up (launch to first message) is printed on its own: at N = 20,000 it is a
large part of its wall time, so only N = 100,000 (the full benchmark's default) gives a fair ratio.

Usage: .venv/bin/python -m benchmarks.gateway_ingest [--messages 10000] [--rounds 2]
[--no-overload] [--overload-cap 200000] (addresses from .state/stack.env; topics, Kafka prefix and MQTT sessions are
unique per run and removed after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.c_publisher import publish_lines
from benchmarks.mqtt_login import BenchLogin, bench_login
from runtime.kafka_client import client_kwargs

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = 200
_POLL_S = 0.02

__all__ = ["RESULT_PREFIX", "main"]

RESULT_PREFIX = "result: "
BENCH_ROOT = "sensegate-bench"


def _stack_env() -> dict[str, str]:
    env: dict[str, str] = {}
    path = Path(os.environ.get("SENSEGATE_STATE", ROOT / ".state")) / "stack.env"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                env[key] = value
    env.update({k: v for k, v in os.environ.items() if k.startswith("SENSEGATE_")})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            key = name.split("{", 1)[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True, slots=True)
class Drain:
    """Figures of one drained backlog."""

    rate: float
    wall_s: float
    rss_kb: int
    first: int  # messages already done when the clock started
    startup_s: float = 0.0  # process launch -> first message (C client) / first ack (gateway)


class Bench:
    """One benchmark run against the stack's broker and Kafka."""

    def __init__(self, messages: int, overload_cap: int = 200_000) -> None:
        env = _stack_env()
        self.mqtt_port = int(env.get("SENSEGATE_MQTT__PORT", "11883"))
        self.tls_port = int(env.get("SENSEGATE_STACK_MQTT_TLS_PORT", "18883"))
        state = Path(env.get("SENSEGATE_STATE", ROOT / ".state"))
        self.ca = Path(env.get("SENSEGATE_STACK_MQTT_CA", state / "pki" / "ca.crt"))
        self.login: BenchLogin = bench_login(env, self.mqtt_port)
        self.c_env = {**os.environ, "XDG_CONFIG_HOME": str(self.login.config_home)}
        self.kafka = env.get("SENSEGATE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
        self.n = messages
        self.overload_cap = overload_cap  # the RSS backlog is 10 x N, capped to bound the run
        self.tok = uuid.uuid4().hex[:8]
        self.prefix = f"bench{self.tok}."
        # A layout of the benchmark's own, routed as v2x by this gateway only: the platform's
        # gateway (default subscriptions) neither ingests these messages nor, while stopped,
        # has them queued in its persistent session.
        self.topic = f"{BENCH_ROOT}/{self.tok}/RSU/UP"
        self.overload_topic = f"{BENCH_ROOT}/{self.tok}-o/RSU/UP"
        self.metrics_port = _free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="gwbench"))
        self.sub_id = f"bench-csub-{self.tok}"
        self.gw: subprocess.Popen[bytes] | None = None

    # --- clients ------------------------------------------------------------------------------

    def _sub_cmd(self, *extra: str) -> list[str]:
        return [
            "mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.mqtt_port), "-V", "5", "-q", "1",
            "-c", "-x", "600", "-i", self.sub_id, "-t", self.topic, "-N", *extra,
        ]  # fmt: skip

    def load(self, topic: str, count: int, tag: str) -> float:
        """Publish count QoS 1 messages with the C publisher; returns seconds taken."""
        lines = self.tmp / f"{tag}.txt"
        with lines.open("w") as fh:
            for i in range(count):
                head = f"{tag}-{i}|"
                fh.write(head + "x" * (PAYLOAD - len(head)) + "\n")
        start = time.monotonic()
        publish_lines(self.mqtt_port, topic, lines, 1, v5=True, env=self.c_env)
        return time.monotonic() - start

    def start_gateway(self, *, wait_ready: bool = True, tls: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")}
        # The operator's Kafka login (operator.env, sourced by the Makefile): no anonymous client.
        env.update({k: v for k, v in os.environ.items() if k.startswith("SENSEGATE_KAFKA__")})
        # The TLS gateway is a session of its own (instance id): the broker queues the same
        # backlog for it, drained after the password-only one.
        subs = [self.topic] if tls else [self.topic, self.overload_topic]
        env.update(self.login.env())
        if tls:
            env.update(
                {"SENSEGATE_MQTT__TLS": "true", "SENSEGATE_MQTT__TLS_CA_FILE": str(self.ca)}
            )
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "SENSEGATE_MQTT__PORT": str(self.tls_port if tls else self.mqtt_port),
                "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": self.kafka,
                "SENSEGATE_KAFKA__TOPIC_PREFIX": self.prefix,
                "SENSEGATE_METRICS__PORT": str(self.metrics_port),
                "SENSEGATE_GATEWAY__INSTANCE_ID": f"bench-{self.tok}" + ("-tls" if tls else ""),
                "SENSEGATE_GATEWAY__SUBSCRIPTIONS": json.dumps(subs),
                "SENSEGATE_GATEWAY__BROKER_AUDIT": "false",
                "SENSEGATE_GATEWAY__ROUTES": json.dumps(
                    [{"filter": f"{BENCH_ROOT}/+/RSU/UP", "family": "v2x", "device": "{1}"}]
                ),
                "SENSEGATE_GATEWAY__LOG_LEVEL": "WARNING",
            }
        )
        log = (self.tmp / "gateway.log").open("ab")
        self.gw = subprocess.Popen(
            [sys.executable, "-m", "gateway"], env=env, stdout=log, stderr=log
        )
        log.close()
        if not wait_ready:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.metrics_port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        msg = f"gateway not ready; log in {self.tmp / 'gateway.log'}"
        raise RuntimeError(msg)

    def stop_gateway(self) -> None:
        if self.gw is not None and self.gw.poll() is None:
            self.gw.terminate()
            self.gw.wait(120)
        self.gw = None

    def drain_gateway(self, target: int) -> Drain:
        """Wait until a fresh gateway acked ``target`` messages, timing from its first ack."""
        if self.gw is None:
            msg = "gateway not running"
            raise RuntimeError(msg)
        start = time.monotonic()
        first: tuple[float, float] | None = None
        max_rss = 0
        deadline = start + 600
        done = 0.0
        while time.monotonic() < deadline:
            max_rss = max(max_rss, _rss_kb(self.gw.pid))
            now = time.monotonic()
            try:
                done = _metrics(self.metrics_port).get("sensegate_gateway_acknowledged_total", 0.0)
            except OSError:  # not listening yet
                done = 0.0
            if first is None and done > 0:
                first = (now, done)
            if done >= target:
                break
            time.sleep(_POLL_S)
        end = time.monotonic()
        t0, c0 = first if first is not None else (start, 0.0)
        rate = (done - c0) / (end - t0) if end > t0 and done > c0 else 0.0
        return Drain(rate=rate, wall_s=end - start, rss_kb=max_rss, first=int(c0),
                     startup_s=t0 - start)

    def drain_c_client(self, target: int) -> Drain:
        """Drain the C client's backlog; its rate is timed from first to last message received."""
        start, launched = time.monotonic(), time.time()
        out = subprocess.run(
            self._sub_cmd("-C", str(target), "-F", "%U\\n"),
            check=True, capture_output=True, text=True, timeout=600, env=self.c_env,
        )  # fmt: skip
        wall = time.monotonic() - start
        stamps = [float(x) for x in out.stdout.split()]
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        rate = (len(stamps) - 1) / span if span > 0 else 0.0
        # start-up: exec, connect, session resume, until the first message (receive stamps are
        # wall clock); at small N it dominates the wall time, so it is reported on its own
        startup = max(0.0, stamps[0] - launched) if stamps else wall
        return Drain(rate=rate, wall_s=wall, rss_kb=0, first=1, startup_s=startup)

    # --- run ----------------------------------------------------------------------------------

    def run(self, rounds: int, overload: bool) -> None:
        n = self.n
        print(f"broker 127.0.0.1:{self.mqtt_port}, kafka {self.kafka}, N={n}, payload {PAYLOAD} B")
        # Persistent sessions for both subscribers, so the broker queues each backlog for both.
        subprocess.run(
            self._sub_cmd("-W", "1"),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.c_env,
        )
        self.start_gateway(tls=True)
        self.stop_gateway()
        self.start_gateway()
        idle_rss = _rss_kb(self.gw.pid) if self.gw else 0
        self.stop_gateway()
        c_rates: list[float] = []
        gw_rates: list[float] = []
        tls_rates: list[float] = []
        c_startups: list[float] = []
        gw_startups: list[float] = []
        rss_n = 0
        for r in range(1, rounds + 1):
            pub_s = self.load(self.topic, n, f"a{r}")
            print(f"round {r}: loaded {n} messages in {pub_s:.2f}s ({n / pub_s:,.0f} msg/s)")
            c = self.drain_c_client(n)
            c_rates.append(c.rate)
            c_startups.append(c.startup_s)
            print(
                f"  mosquitto_sub (C, QoS 1):       {c.rate:10,.0f} msg/s first->last "
                f"(wall {c.wall_s:.2f}s incl. start-up {c.startup_s:.2f}s = "
                f"{n / c.wall_s:,.0f} msg/s over the wall time)"
            )
            self.start_gateway(wait_ready=False)
            g = self.drain_gateway(n)
            self.stop_gateway()
            gw_rates.append(g.rate)
            gw_startups.append(g.startup_s)
            rss_n = max(rss_n, g.rss_kb)
            print(
                f"  gateway (QoS 1, acks=all):      {g.rate:10,.0f} msg/s first->last ack "
                f"(wall {g.wall_s:.2f}s, clock from ack {g.first}) "
                f"= {100 * g.rate / c.rate:.0f}% of the C client"
            )
            self.start_gateway(wait_ready=False, tls=True)
            t = self.drain_gateway(n)
            self.stop_gateway()
            tls_rates.append(t.rate)
            print(
                f"  gateway over TLS (same backlog): {t.rate:10,.0f} msg/s first->last ack "
                f"= {100 * t.rate / g.rate:.0f}% of the password-only listener"
            )
        self._end_session(self.sub_id)  # the C client's: it would go on queueing
        c_med, gw_med = statistics.median(c_rates), statistics.median(gw_rates)
        tls_med = statistics.median(tls_rates)
        print(
            f"median: C {c_med:,.0f} msg/s, gateway {gw_med:,.0f} msg/s, "
            f"ratio {100 * gw_med / c_med:.0f}%"
        )
        print(
            f"median over TLS: gateway {tls_med:,.0f} msg/s = "
            f"{100 * tls_med / gw_med:.0f}% of the password-only listener (TLS cost)"
        )
        print(f"gateway RSS: idle {idle_rss / 1024:.1f} MiB, draining N {rss_n / 1024:.1f} MiB")
        c_start, gw_start = statistics.median(c_startups), statistics.median(gw_startups)
        print(
            f"start-up (launch -> first message / first ack), medians: C client {c_start:.2f}s, "
            f"gateway {gw_start:.2f}s (not in either rate)"
        )
        result: dict[str, float] = {
            "messages": n,
            "rounds": rounds,
            "c_startup_s": round(c_start, 3),
            "gateway_startup_s": round(gw_start, 3),
            "c_msg_per_s": round(c_med, 1),
            "gateway_msg_per_s": round(gw_med, 1),
            "ratio": round(gw_med / c_med, 4) if c_med else 0.0,
            "gateway_tls_msg_per_s": round(tls_med, 1),
            "tls_ratio": round(tls_med / gw_med, 4) if gw_med else 0.0,
            "rss_idle_mib": round(idle_rss / 1024, 1),
            "rss_drain_mib": round(rss_n / 1024, 1),
        }
        if overload:
            over = min(10 * n, self.overload_cap)
            self.load(self.overload_topic, over, "o")
            self.start_gateway(wait_ready=False)
            o = self.drain_gateway(over)
            self.stop_gateway()
            print(
                f"gateway RSS draining a backlog of {over} (10 x N, at most {self.overload_cap}): "
                f"{o.rss_kb / 1024:.1f} MiB "
                f"({o.rate:,.0f} msg/s while overloaded)"
            )
            result["rss_overload_mib"] = round(o.rss_kb / 1024, 1)
        # One machine-readable line for the benchmark report (benchmarks/report.py).
        print(f"{RESULT_PREFIX}{json.dumps(result)}")

    def _end_session(self, client_id: str) -> None:
        """Discard a persistent session (clean start, expiry 0): nothing queues for it any more."""
        subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.mqtt_port), "-V", "5",
             "-i", client_id, "-t", self.topic, "-E", "-x", "0"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
            env=self.c_env,
        )  # fmt: skip

    def cleanup(self) -> None:
        self.stop_gateway()
        self._end_session(f"sensegate-gw-bench-{self.tok}")
        self._end_session(f"sensegate-gw-bench-{self.tok}-tls")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.login.close()
        asyncio.run(_delete_topics(self.kafka, self.prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(**client_kwargs(bootstrap, request_timeout_ms=5000))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10000, help="N (default 10000)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side (default 2)")
    parser.add_argument("--no-overload", action="store_true", help="skip the 10xN RSS run")
    parser.add_argument("--overload-cap", type=int, default=200_000,
                        help="at most this many messages in the 10xN RSS run (default 200000)")
    args = parser.parse_args(argv)
    if not shutil.which("mosquitto_sub") or not shutil.which("mosquitto_pub"):
        print("mosquitto_sub/mosquitto_pub not installed", file=sys.stderr)
        return 2
    bench = Bench(min(max(args.messages, 100), 100_000), max(args.overload_cap, 100))
    try:
        bench.run(min(max(args.rounds, 1), 5), not args.no_overload)
    finally:
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
