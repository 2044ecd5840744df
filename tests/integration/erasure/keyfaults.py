"""Helpers of the gateway key-fault tests: a private key database, an RSU fleet, the sealed-raw oracle.

The oracle reads ``raw.v2x`` back and holds every copy to the rules of a sealed family: the value
is a ``sg1.`` token, ``sg.seal`` names the key the gateway registered for the copy's (device,
epoch), and the token opens with that key to exactly the bytes one RSU published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer
from psycopg import sql

from contracts.sealed import open_token, raw_context
from contracts.topics import raw_topic
from processors.storage.migrate import migrate
from runtime.kafka_client import client_kwargs
from tests.fixtures.mqtt_auth import MqttLogin, MqttLogins
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import Publisher, gateway_overrides

SCHEMA = "sensegate"
FAMILY = "v2x"
GATEWAY_ROLE = "sensegate_gateway"
KEYS_APP = "sensegate-gateway-keys"  # application_name of the gateway's key connection
_NS = 1_000_000_000


def gateway_doc(  # noqa: PLR0917
    stack: StackAddresses,
    logins: MqttLogins,
    prefix: str,
    name: str,
    dsn: str,
    epoch_s: int,
    **extra: Any,
) -> dict[str, Any]:
    """Settings of a gateway sealing V2X under ``epoch_s`` keys registered through ``dsn``."""
    doc = gateway_overrides(
        mqtt=logins.gateway, kafka=stack.kafka_bootstrap, prefix=prefix, instance=name,
        subscriptions=["V2X/RSU/+/RSM/UP"], seal_families=["v2x"], seal_epoch_s=epoch_s,
        retry_backoff_max_s=1.0, drain_timeout_s=10.0, **extra,
    )  # fmt: skip
    doc["db"] = {"dsn": dsn, "schema_name": SCHEMA}
    return doc


def key_database(pg: PrivatePostgres) -> str:
    """Migrate the private server as the stack does and let the gateway role log in; its DSN.

    The private server trusts loopback, so the role needs no password; the migration creates it
    NOLOGIN with exactly the stack's grants (SELECT, INSERT on ``raw_epoch_key``).
    """
    migrate(pg.dsn, SCHEMA, None, mode="plain")
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(GATEWAY_ROLE)))
    return f"postgresql://{GATEWAY_ROLE}@127.0.0.1:{pg.port}/sensegate"


@dataclass(frozen=True)
class EpochKey:
    """One row of ``raw_epoch_key`` as the oracle needs it."""

    key_id: str
    key: bytes
    created_at: datetime


def epoch_keys(dsn: str) -> dict[tuple[str, int], EpochKey]:
    """(device, epoch start ns) -> the registered key still live, for the V2X family."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT device_id, epoch_start_ns, key_id, data_key, created_at FROM {}.raw_epoch_key "
                "WHERE family = %s AND data_key IS NOT NULL"
            ).format(sql.Identifier(SCHEMA)),
            (FAMILY,),
        ).fetchall()
    return {(d, int(s)): EpochKey(k, bytes(v), c) for d, s, k, v, c in rows}


def key_backends(dsn: str) -> list[int]:
    """Server pids of the gateway's key connections."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (KEYS_APP,)
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def idle_key_backend(dsn: str) -> int | None:
    """The server pid of the gateway's key connection, when it is idle (between registrations)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = 'idle'",
            (KEYS_APP,),
        ).fetchone()
    return None if row is None else int(row[0])


def server_pids(pg: PrivatePostgres) -> list[int]:
    """The private server's postmaster, then every process it forked (to stop it as a whole)."""
    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid ...": the name may hold spaces, so split after it
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


def _rsm(rsu: str, n: int, msg_id: str) -> bytes:
    """An RSM of ``rsu`` (JER-like JSON, as the normalize kit reads it) unique to ``msg_id``."""
    ptc = 1000 + n % 7
    doc = {"id": rsu, "msgId": msg_id, "content": {"rsms": [{
        "msgCnt": n % 128, "refPos": {"lat": 438812345, "lon": 1253154321, "ele": 2150},
        "participants": [{
            "ptcType": "motor", "ptcId": ptc, "source": "lidar", "secMark": (n * 100) % 60_000,
            "pos": {"lat": 438_800_000 + n * 37, "lon": 1_253_150_000 + n * 29},
            "speed": 600 + n % 11, "heading": 7200,
        }],
    }]}}  # fmt: skip
    return json.dumps(doc).encode()


@dataclass
class Fleet:
    """RSUs that publish RSMs at QoS 1 from threads until stopped; remembers each payload's id."""

    login: MqttLogin
    name: str
    rsus: int = 4
    rate: float = 10.0  # messages per second and RSU
    max_s: float = 180.0
    payloads: dict[bytes, str] = field(default_factory=dict)
    _publishers: list[Publisher] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Connect one publisher per RSU and start publishing."""
        for i in range(self.rsus):
            rsu = f"{self.name}-rsu{i}"
            items = []
            for n in range(int(self.rate * self.max_s)):
                msg_id = f"{rsu}-{n}"
                payload = _rsm(rsu, n, msg_id)
                self.payloads[payload] = msg_id
                items.append((f"V2X/RSU/{rsu}/RSM/UP", payload, msg_id))
            pub = Publisher(self.login, f"{self.name}-c{i}")
            self._publishers.append(pub)
            self._threads.append(pub.stream(items, self.rate, self._stop))

    def stop(self) -> None:
        """Stop publishing (what was published stays in flight)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def published(self) -> set[str]:
        """Ids of every message handed to the client."""
        return {msg_id for pub in self._publishers for msg_id, _ in list(pub.infos)}

    def acked(self) -> set[str]:
        """Ids of the messages the broker PUBACKed (the gateway acked them to the broker first)."""
        return set().union(*(pub.acked_ids() for pub in self._publishers))

    def wait_acked(self, timeout: float) -> None:
        """Wait until every published message is acknowledged (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.acked() != self.published():
            time.sleep(0.2)

    def close(self) -> None:
        """Stop and disconnect every publisher."""
        self.stop()
        for pub in self._publishers:
            pub.close()


@dataclass(frozen=True)
class RawCopy:
    """One record of the raw topic."""

    value: bytes
    headers: dict[str, str]
    timestamp_ms: int


async def read_raw(bootstrap: str, topic: str, want: int, idle_s: float = 4.0) -> list[RawCopy]:
    """Every record of ``topic`` from the start: until ``want`` records and then ``idle_s`` quiet."""
    consumer = AIOKafkaConsumer(
        topic, **client_kwargs(bootstrap), group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, metadata_max_age_ms=1000,
    )  # fmt: skip
    await consumer.start()
    copies: list[RawCopy] = []
    try:
        loop = asyncio.get_running_loop()
        deadline, last = loop.time() + 120, loop.time()
        while loop.time() < deadline and (len(copies) < want or loop.time() - last < idle_s):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                last = loop.time()
                copies += [
                    RawCopy(r.value or b"", {k: v.decode() for k, v in r.headers}, r.timestamp)
                    for r in records
                ]
    finally:
        await consumer.stop()
    return copies


def epoch_of(copy: RawCopy, epoch_s: int) -> tuple[str, int]:
    """The (device, epoch start ns) a raw copy was received in."""
    rx = int(copy.headers["sg.rx_ns"])
    return copy.headers["sg.device"], rx - rx % (epoch_s * _NS)


def open_copies(
    copies: list[RawCopy],
    keys: dict[tuple[str, int], EpochKey],
    payloads: dict[bytes, str],
    epoch_s: int,
) -> dict[str, list[RawCopy]]:
    """Message id -> its copies in Kafka; fails on a copy in clear or not opening with its key."""
    found: dict[str, list[RawCopy]] = {}
    for copy in copies:
        assert copy.value not in payloads, "a raw V2X payload reached Kafka in clear"
        assert copy.value.startswith(b"sg1."), copy.value[:40]
        assert "sg.seal" in copy.headers, copy.headers
        device, start = epoch_of(copy, epoch_s)
        registered = keys.get((device, start))
        assert registered is not None, f"no key registered for {device} epoch {start}"
        assert copy.headers["sg.seal"] == registered.key_id
        context = raw_context(FAMILY, device, int(copy.headers["sg.rx_ns"]))
        plain = open_token(copy.value.decode(), {registered.key_id: registered.key}.get, context)
        assert plain in payloads, "a sealed payload opens to bytes no RSU published"
        found.setdefault(payloads[plain], []).append(copy)
    return found


async def prepare(
    stack: StackAddresses,
    pg: PrivatePostgres,
    logins: MqttLogins,
    unique_name: Callable[[str], str],
    epoch_s: int,
    **extra: Any,
) -> tuple[str, dict[str, Any], Fleet]:
    """A migrated key database, a topic prefix, the gateway's settings and an RSU fleet (idle)."""
    dsn = await asyncio.to_thread(key_database, pg)
    prefix = unique_name("gk") + "."
    doc = gateway_doc(stack, logins, prefix, unique_name("gw"), dsn, epoch_s, **extra)
    return prefix, doc, Fleet(logins.publisher, unique_name("fl"))


async def drain_fleet(
    fleet: Fleet, bootstrap: str, prefix: str, expected: Callable[[set[str]], int] = len
) -> tuple[set[str], list[RawCopy]]:
    """Stop the fleet, wait for the broker's PUBACKs, and read ``raw.v2x`` back (the gateway must
    still run: what it holds must reach Kafka, not wait for the next gateway); ``expected``: how
    many of the published ids should arrive."""
    fleet.stop()
    await asyncio.to_thread(fleet.wait_acked, 90)
    published = fleet.published()
    return published, await read_raw(bootstrap, raw_topic(prefix, "v2x"), expected(published))


def delivered(
    copies: list[RawCopy], pg: PrivatePostgres, fleet: Fleet, epoch_s: int
) -> tuple[dict[tuple[str, int], EpochKey], dict[str, list[RawCopy]], int]:
    """The registered keys, the copies per message id (all checked sealed) and the duplicates."""
    keys = epoch_keys(pg.dsn)
    by_id = open_copies(copies, keys, fleet.payloads, epoch_s)
    return keys, by_id, sum(len(c) - 1 for c in by_id.values())
