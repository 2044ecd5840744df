"""One benchmark run's private pipeline on the shared stack: names, environment and processes.

Isolation: topic prefix ``bench<id><tag>.``, schema ``bench_<id>`` (tables, provenance and device
registry; dropped at the end), consumer groups and MQTT client ids containing the run id, free
metrics ports, gateway sessions that expire on disconnect, except the end-to-end gateway's, which
holds the pre-loaded saturation backlog and is discarded at cleanup (no queue left on the broker).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.limits import StackTarget
from benchmarks.probe import Probe, create_topics, delete_topics
from benchmarks.procs import Service, ServiceSet
from contracts.families import FAMILY_NAMES
from contracts.topics import data_topic, dlq_topic, quarantine_topic, raw_topic
from processors.catalog import load_catalog
from processors.provenance.keys import generate_seed

__all__ = ["RunContext", "discard_session"]

logger = logging.getLogger(__name__)


def discard_session(port: int, client_id: str) -> None:
    """End a persistent MQTT session (clean start, expiry 0) so nothing queues for it any more.

    Authenticates with the run's login (``XDG_CONFIG_HOME`` of ``benchmarks/mqtt_login.py``).
    """
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "5", "-i", client_id,
             "-t", "sensegate-bench/discard", "-E", "-x", "0"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
        )  # fmt: skip


@dataclass
class RunContext:
    """Identity, addresses and started processes of one harness run."""

    stack: StackTarget
    work: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    services: ServiceSet = field(init=False)
    _signing_seed: str = field(default_factory=generate_seed, repr=False)
    _pseudonym_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    kept_sessions: set[str] = field(default_factory=set)  # MQTT client ids to discard at cleanup

    def __post_init__(self) -> None:
        self.services = ServiceSet(self.base_env(), self.work)

    @property
    def schema(self) -> str:
        """The run's PostgreSQL schema."""
        return f"bench_{self.run_id}"

    @property
    def driver(self) -> str:
        """V2X topic driver suffix that marks this run's RSU traffic."""
        return f"bench{self.run_id}"

    def prefix(self, tag: str) -> str:
        """Kafka topic prefix of one part of the run (``s`` stages, ``e`` end to end)."""
        return f"bench{self.run_id}{tag}."

    def base_env(self) -> dict[str, str]:
        """Environment shared by every process the run starts."""
        return {
            "SENSEGATE_MQTT__HOST": "127.0.0.1",
            "SENSEGATE_MQTT__PORT": str(self.stack.mqtt_port),
            "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap,
            "SENSEGATE_DB__DSN": self.stack.pg_dsn,
            "SENSEGATE_DB__SCHEMA_NAME": self.schema,
            # Keys of this run only (never stored): the services refuse to start without them.
            "SENSEGATE_PSEUDONYM__KEYS": json.dumps({"bench": self._pseudonym_key}),
            "SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID": "bench",
            "SENSEGATE_PROVENANCE__SIGNING_KEY": self._signing_seed,
            "PYTHONUNBUFFERED": "1",
        }

    def datasets(self) -> list[str]:
        """Dataset codes of the catalog."""
        return sorted(load_catalog().entries)

    def topics(self, tag: str) -> tuple[dict[str, str], dict[str, str]]:
        """(family -> raw topic, dataset -> data topic) for one prefix."""
        p = self.prefix(tag)
        return ({f: raw_topic(p, f) for f in FAMILY_NAMES},
                {d: data_topic(p, d) for d in self.datasets()})

    async def create_topics(self, tag: str) -> None:
        """Pre-create the prefix's raw, data, DLQ and quarantine topics."""
        raws, datas = self.topics(tag)
        p = self.prefix(tag)
        await create_topics(self.stack.kafka_bootstrap,
                            [*raws.values(), *datas.values(), dlq_topic(p), quarantine_topic(p)])

    def probe(self, tag: str, normalize_groups: list[str]) -> Probe:
        """A probe over one prefix's topics and groups."""
        raws, datas = self.topics(tag)
        return Probe(bootstrap=self.stack.kafka_bootstrap, dsn=self.stack.pg_dsn, schema=self.schema,
                     raw_topics=raws, data_topics=datas, normalize_groups=normalize_groups,
                     sink_group=self.sink_group(tag))

    def normalize_group(self, tag: str, family: str = "all") -> str:
        """Consumer group of a normalize process."""
        return f"bench{self.run_id}{tag}-normalize-{family}"

    def sink_group(self, tag: str) -> str:
        """Consumer group of the sink."""
        return f"bench{self.run_id}{tag}-sink"

    def start_gateway(
        self, name: str, tag: str, subscriptions: list[str], mqtt_port: int | None = None,
        session_expiry_s: int = 0,
    ) -> Service:
        """Start a gateway for ``tag``'s prefix, subscribed to the run's fleet topics only.

        A non-zero ``session_expiry_s`` keeps its session (and queue) on the broker while it is
        stopped, so a backlog can be pre-loaded; ``cleanup`` discards such sessions.
        """
        instance = f"bench{self.run_id}-{name}"
        if session_expiry_s and mqtt_port is None:
            self.kept_sessions.add(f"sensegate-gw-{instance}")
        env = {
            "SENSEGATE_KAFKA__TOPIC_PREFIX": self.prefix(tag),
            "SENSEGATE_GATEWAY__INSTANCE_ID": instance,
            "SENSEGATE_GATEWAY__SESSION_EXPIRY_S": str(session_expiry_s),
            "SENSEGATE_GATEWAY__SUBSCRIPTIONS": json.dumps(subscriptions),
            "SENSEGATE_GATEWAY__LOG_LEVEL": "WARNING",
        }
        if mqtt_port is not None:
            env["SENSEGATE_MQTT__PORT"] = str(mqtt_port)
        return self.services.start(name, ["-m", "gateway"], env)

    def start_normalize(self, name: str, tag: str, families: str = "") -> Service:
        """Start a normalize process for ``families`` (comma list, default all) with its own group."""
        families = families or ",".join(FAMILY_NAMES)
        group = self.normalize_group(tag, "all" if "," in families else families)
        env = {
            "SENSEGATE_KAFKA__TOPIC_PREFIX": self.prefix(tag),
            "SENSEGATE_RUNNER__GROUP_ID": group,
            # the rebirth publisher uses a fixed MQTT client id that another normalize may hold
            "SENSEGATE_REBIRTH": "false",
        }
        return self.services.start(
            name, ["-m", "processors", "--log-level", "WARNING", "normalize", "--families", families], env)

    def start_sink(self, name: str, tag: str) -> Service:
        """Start a sink for ``tag``'s data topics into the run's schema."""
        env = {
            "SENSEGATE_KAFKA__TOPIC_PREFIX": self.prefix(tag),
            "SENSEGATE_SINK__GROUP_ID": self.sink_group(tag),
            "SENSEGATE_SINK__METADATA_MAX_AGE_MS": "1000",
        }
        return self.services.start(name, ["-m", "processors", "--log-level", "WARNING", "sink"], env)

    def sink_tables_ready(self) -> bool:
        """True once the sink's migrations have created ``<schema>.ingest_offset``."""
        try:
            with psycopg.connect(self.stack.pg_dsn, autocommit=True) as conn:
                row = conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.ingest_offset",)).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    async def cleanup(self) -> dict[str, object]:
        """Stop every process, delete the run's topics and drop its schema."""
        self.services.close()
        report: dict[str, object] = {}
        for client_id in sorted(self.kept_sessions):
            discard_session(self.stack.mqtt_port, client_id)
        report["sessions_discarded"] = len(self.kept_sessions)
        try:
            report["topics_deleted"] = await delete_topics(self.stack.kafka_bootstrap, f"bench{self.run_id}")
        except Exception as exc:
            report["topics_error"] = str(exc)
        try:
            with psycopg.connect(self.stack.pg_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
            report["schema_dropped"] = self.schema
        except psycopg.Error as exc:
            report["schema_error"] = str(exc)
        return report
