"""The stack's secrets: generated once into ``STATE/secrets`` (0600), handed out per consumer.

``python -m stack.credentials init STATE`` creates every password and keyring that is missing (never
replacing one); ``env STATE`` renders ``STATE/secrets/env/<consumer>.env``, one file per service or
operator task holding only what that consumer uses (see ``CONSUMERS`` and docs/operations.md).
Addresses come from ``STATE/stack.env``, which holds no secret. Nothing here prints a secret.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from contracts.credential import new_credential
from processors.keys import KeyKind, Keyring, write_private
from processors.share.principals import SERVICES
from stack import mqtt_auth

__all__ = [
    "CONSUMERS",
    "KAFKA_ADMIN",
    "PG_BOOTSTRAP",
    "PG_DATABASE",
    "PG_OWNER",
    "Addresses",
    "all_secret_values",
    "keys_env",
    "password",
    "read_env_file",
    "render_env",
]

KAFKA_ADMIN = "sensegate-admin"
PG_BOOTSTRAP = "sensegate_bootstrap"
PG_OWNER = "sensegate_owner"
PG_DATABASE = "sensegate"
# Password files: kafka-<principal key> and pg-<role suffix>.
KAFKA_PASSWORDS = ("admin", *SERVICES)
PG_PASSWORDS = (
    "bootstrap", "owner", "sink", "normalize", "reader", "registry", "monitor", "auditor",
    "objections", "gateway",
)  # fmt: skip


def secrets_dir(state: Path) -> Path:
    """The 0700 folder of every generated secret."""
    path = state / "secrets"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def password(state: Path, name: str) -> str:
    """The password stored as ``STATE/secrets/<name>.password``."""
    return (secrets_dir(state) / f"{name}.password").read_text(encoding="utf-8").strip()


def init(state: Path) -> list[str]:
    """Create every missing password and keyring; returns the names created (never values)."""
    created = []
    folder = secrets_dir(state)
    names = [f"kafka-{n}" for n in KAFKA_PASSWORDS] + [f"pg-{n}" for n in PG_PASSWORDS]
    for name in names:
        path = folder / f"{name}.password"
        if not path.exists():
            # URL-safe: the value goes into DSNs and JAAS lines without escaping.
            write_private(path, new_credential() + "\n")
            created.append(name)
    for kind in KeyKind:
        path = folder / f"{kind.value}-keys.json"
        if not path.exists():
            Keyring.ensure(state, kind)
            created.append(f"{kind.value}-keys")
    return created


def read_env_file(path: Path) -> dict[str, str]:
    """Variables of an ``export KEY=VALUE`` file (shell-quoted values are unquoted)."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                parts = shlex.split(value) if value else [""]
                values[key] = parts[0] if parts else ""
    return values


@dataclass(frozen=True)
class Addresses:
    """Where the running stack listens (from ``STATE/stack.env``)."""

    state: Path
    kafka_bootstrap: str
    kafka_sasl_bootstrap: str
    pg_port: int
    pg_host: str = "127.0.0.1"
    ca_path: Path | None = None  # where clients find the CA, when not in this state folder

    @property
    def ca(self) -> Path:
        """The project CA certificate every client verifies the servers with."""
        return self.ca_path or self.state / "pki" / "ca.crt"

    @classmethod
    def from_state(cls, state: Path) -> Addresses:
        """Read the addresses ``stack/stack.sh`` wrote."""
        env = read_env_file(state / "stack.env")
        ca = env.get("SENSEGATE_STACK_CA")
        return cls(
            state=state,
            kafka_bootstrap=env["SENSEGATE_KAFKA__BOOTSTRAP_SERVERS"],
            kafka_sasl_bootstrap=env["SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP"],
            pg_port=int(env["SENSEGATE_STACK_PG_PORT"]),
            pg_host=env.get("SENSEGATE_STACK_PG_HOST", "127.0.0.1"),
            ca_path=Path(ca) if ca else None,
        )

    def kafka(self, principal: str) -> dict[str, str]:
        """Kafka settings for SCRAM principal ``principal`` over TLS (SASL_SSL)."""
        user = KAFKA_ADMIN if principal == "admin" else SERVICES[principal][0]
        return {
            "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "SENSEGATE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "SENSEGATE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "SENSEGATE_KAFKA__SASL_USERNAME": user,
            "SENSEGATE_KAFKA__SASL_PASSWORD": password(self.state, f"kafka-{principal}"),
            "SENSEGATE_KAFKA__SSL_CAFILE": str(self.ca),
        }

    def dsn(self, role: str, database: str = PG_DATABASE) -> str:
        """DSN of role ``sensegate_<role>`` with TLS verified against the project CA."""
        name = PG_BOOTSTRAP if role == "bootstrap" else f"sensegate_{role}"
        return (
            f"postgresql://{name}:{password(self.state, f'pg-{role}')}@{self.pg_host}:{self.pg_port}/"
            f"{database}?sslmode=verify-full&sslrootcert={self.ca}"
        )

    def db(self, role: str) -> dict[str, str]:
        """Database settings for ``sensegate_<role>``."""
        return {"SENSEGATE_DB__DSN": self.dsn(role)}


def keys_env(state: Path, kind: KeyKind) -> dict[str, str]:
    """The settings that hand the active key of ``kind`` to its one service."""
    ring = Keyring.load(state, kind)
    # Services get the active key only: retired keys stay with the operator until destroyed.
    active = {ring.active_id: ring.active_secret().get_secret_value()}
    if kind is KeyKind.PSEUDONYM:
        return {
            "SENSEGATE_PSEUDONYM__KEYS": json.dumps(active),
            "SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID": ring.active_id,
        }
    if kind is KeyKind.SHARE:
        return {
            "SENSEGATE_SHARE_KEYS__MASTERS": json.dumps(active),
            "SENSEGATE_SHARE_KEYS__ACTIVE_ID": ring.active_id,
        }
    return {"SENSEGATE_PROVENANCE__SIGNING_KEY": active[ring.active_id]}


def _mqtt(state: Path, identity: str) -> dict[str, str]:
    """A service's MQTT identity (``GATEWAY``/``HOSTAPP``/``MONITOR``, stack/mqtt_auth.py), if made."""
    known = mqtt_auth.read_env_file(state / "mosquitto" / "services.env")
    if f"{identity}_MQTT_PASSWORD" not in known:
        return {}
    return {
        "SENSEGATE_MQTT__USERNAME": known[f"{identity}_MQTT_USERNAME"],
        "SENSEGATE_MQTT__PASSWORD": known[f"{identity}_MQTT_PASSWORD"],
    }


def _broker_admin(state: Path) -> dict[str, str]:
    """The MQTT broker's admin client (device credentials), for the operator's tools only."""
    return mqtt_auth.read_env_file(state / "mosquitto" / "broker.env")


def _trusted(state: Path) -> dict[str, str]:
    keys = Keyring.load(state, KeyKind.SIGNING).public_keys()
    return {"SENSEGATE_PROVENANCE__TRUSTED_PUBLIC_KEYS": json.dumps(keys)}


# consumer -> what it gets; docs/operations.md lists the same table for operators.
CONSUMERS: dict[str, str] = {
    "gateway": "Kafka as sensegate-gateway, DB as sensegate_gateway (raw epoch keys), its MQTT identity",
    "normalize": "Kafka as sensegate-normalizer, DB as sensegate_normalize, the pseudonym key, MQTT host-app",
    "sink": "Kafka as sensegate-sink, DB as sensegate_sink, the signing key",
    "share": "Kafka as sensegate-share, DB as sensegate_reader (subject keys), the share master key",
    "monitor": "Kafka as sensegate-monitor (describe only), DB as sensegate_monitor (offsets), MQTT $SYS reader",
    "objections": "Kafka as sensegate-objections, DB as sensegate_objections, the signing and share keys",
    "operator": "Kafka admin, DB owner, MQTT broker admin (migrations, tests, demo, bench)",
    "admin": "Kafka admin, DB as sensegate_registry, MQTT broker admin, the signing key (admin CLIs)",
    "auditor": "DB as sensegate_auditor, the trusted public keys (provenance verify)",
}


def consumer_env(addr: Addresses, consumer: str) -> dict[str, str]:
    """The variables of one consumer's env file."""
    state = addr.state
    if consumer == "gateway":
        return {
            **addr.kafka("gateway"),
            **_mqtt(state, "GATEWAY"),
            # V2X raw payloads carry personal data: sealed per device and epoch (erasure).
            **addr.db("gateway"),
            "SENSEGATE_GATEWAY__SEAL_FAMILIES": '["v2x"]',
        }
    if consumer == "normalize":
        return {
            **addr.kafka("normalizer"),
            **addr.db("normalize"),
            **keys_env(state, KeyKind.PSEUDONYM),
            **_mqtt(state, "HOSTAPP"),  # Sparkplug rebirth requests
        }
    if consumer == "sink":
        return {
            **addr.kafka("sink"),
            **addr.db("sink"),
            **keys_env(state, KeyKind.SIGNING),
            # The owner migrates at stack-up; the sink role may not run DDL.
            "SENSEGATE_SINK__MIGRATE_ON_START": "false",
        }
    if consumer == "share":
        # the reader role opens sealed personal values through the subject-key table
        return {**addr.kafka("share"), **addr.db("reader"), **keys_env(state, KeyKind.SHARE)}
    if consumer == "monitor":
        return {**addr.kafka("monitor"), **addr.db("monitor"), **_mqtt(state, "MONITOR")}
    if consumer == "objections":
        return {
            **addr.kafka("objections"),
            **addr.db("objections"),
            **keys_env(state, KeyKind.SIGNING),  # signs case events and corrections
            **keys_env(state, KeyKind.SHARE),  # re-derives share/open pseudonyms of a correction
            **_trusted(state),
        }
    if consumer == "operator":
        return {**addr.kafka("admin"), **addr.db("owner"), **_broker_admin(state)}
    if consumer == "admin":
        return {
            **addr.kafka("admin"),
            **addr.db("registry"),
            **_broker_admin(state),
            **keys_env(state, KeyKind.SIGNING),
            **_trusted(state),
        }
    if consumer == "auditor":
        return {**addr.db("auditor"), **_trusted(state)}
    msg = f"unknown consumer {consumer!r}"
    raise KeyError(msg)


def render_env(state: Path, addr: Addresses | None = None, *, compose: bool = False) -> list[Path]:
    """Write every consumer's env file (0600); returns their paths.

    Shell form (``export K='v'``, for stack/services.sh) by default; ``compose`` writes
    docker-compose ``env_file`` form (``K=v``) to ``secrets/compose/`` instead.
    """
    addr = addr or Addresses.from_state(state)
    written = []
    for consumer, what in CONSUMERS.items():
        lines = [f"# {consumer}: {what}. Written by stack/credentials.py; do not commit."]
        pairs = consumer_env(addr, consumer).items()
        lines += [f"{k}={v}" if compose else f"export {k}={shlex.quote(v)}" for k, v in pairs]
        path = secrets_dir(state) / ("compose" if compose else "env") / f"{consumer}.env"
        write_private(path, "\n".join(lines) + "\n")
        written.append(path)
    _java_admin_properties(addr)
    return written


def _java_admin_properties(addr: Addresses) -> Path:
    """Client properties of the admin principal for Kafka's Java tools (perf tests, CLIs)."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{KAFKA_ADMIN}" password="{password(addr.state, "kafka-admin")}";'
    )
    text = "\n".join(
        [
            "security.protocol=SASL_SSL",
            "sasl.mechanism=SCRAM-SHA-512",
            f"sasl.jaas.config={jaas}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={addr.ca}",
        ]
    )
    path = secrets_dir(addr.state) / "kafka-admin.properties"
    write_private(path, text + "\n")
    return path


def all_secret_values(state: Path) -> dict[str, str]:
    """Every generated secret by name (for the leak tests; never printed)."""
    found: dict[str, str] = {}
    folder = secrets_dir(state)
    for path in sorted(folder.glob("*.password")):
        found[path.stem] = path.read_text(encoding="utf-8").strip()
    mqtt = {
        **mqtt_auth.read_env_file(state / "mosquitto" / "services.env"),
        **_broker_admin(state),
    }
    found.update({f"mqtt:{k}": v for k, v in mqtt.items() if k.endswith("PASSWORD") and v})
    for kind in KeyKind:
        ring = Keyring.load(state, kind)
        for key in ring.keys.values():
            if key.secret is not None:
                found[f"{kind.value}:{key.key_id}"] = key.secret.get_secret_value()
    return found


def main(argv: list[str]) -> int:
    """``init STATE`` | ``env STATE``; prints names and paths only."""
    if len(argv) == 2 and argv[0] == "init":
        created = init(Path(argv[1]))
        print(f"secrets: created {', '.join(created)}" if created else "secrets: all present")
        return 0
    if len(argv) == 2 and argv[0] == "env":
        for path in render_env(Path(argv[1])):
            print(path)
        return 0
    print("usage: python -m stack.credentials init STATE | env STATE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
