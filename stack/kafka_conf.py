"""Render the broker's configuration and TLS material, and the argument file that formats its storage.

Used by ``stack/stack.sh`` and by the tests' private brokers, so both run the same secured broker.
The admin password reaches the broker only through 0600 files: the rendered properties and a Java
launcher argument file (``java @file``) for ``StorageTool format --add-scram``, never a command
line, which other local users could read.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from processors.keys import write_private
from stack import pki
from stack.credentials import KAFKA_ADMIN, password

__all__ = ["BrokerPorts", "format_argfile", "render"]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "stack" / "kafka" / "server.properties.in"


@dataclass(frozen=True)
class BrokerPorts:
    """The broker's three loopback ports."""

    tls: int
    sasl: int
    controller: int


def render(
    state: Path,
    ports: BrokerPorts,
    admin_password: str,
    *,
    host: str = "127.0.0.1",
    bind: str = "127.0.0.1",
    inside: Path | None = None,
) -> Path:
    """Write ``STATE/kafka/server.properties`` and the broker's PEM key store; returns the former.

    ``host`` is the advertised name (also in the certificate), ``bind`` the listening address and
    ``inside`` where ``state`` is mounted for the broker (docker-compose), when not the same path.
    """
    folder = state / "kafka"
    (folder / "tls").mkdir(parents=True, exist_ok=True, mode=0o700)
    pair = pki.issue(state, "kafka", "kafka", hosts=sorted({host, "127.0.0.1", "localhost"}))
    # Kafka's PEM key store: the private key (PKCS#8, unencrypted) followed by the certificate.
    write_private(folder / "tls" / "broker.pem", pair.key.read_text() + pair.cert.read_text())
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in {
        "STATE": str(inside or state),
        "HOST": host,
        "BIND": bind,
        "KAFKA_PORT": str(ports.tls),
        "KAFKA_SASL_PORT": str(ports.sasl),
        "KAFKA_CONTROLLER_PORT": str(ports.controller),
        "ADMIN_PASSWORD": admin_password,
    }.items():
        text = text.replace(f"@{key}@", value)
    out = folder / "server.properties"
    write_private(out, text)
    return out


def format_argfile(
    state: Path, cluster_id: str, admin_password: str, *, inside: Path | None = None
) -> Path:
    """Arguments of ``StorageTool format`` adding the admin's SCRAM credential (KIP-900), 0600.

    With ``inside`` (docker-compose) the file names the mounted path and keeps formatted storage
    (``--ignore-formatted``), because the container runs it on every start.
    """
    props = (inside or state) / "kafka" / "server.properties"
    scram = f"SCRAM-SHA-512=[name={KAFKA_ADMIN},password={admin_password}]"
    args = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
            "--add-scram", scram]  # fmt: skip
    if inside is not None:
        args.append("--ignore-formatted")
    path = state / "kafka" / "format.args"
    write_private(path, "\n".join(f'"{a}"' for a in args) + "\n")
    return path


def main(argv: list[str]) -> int:
    """``render STATE`` (ports from SENSEGATE_STACK_KAFKA_*) | ``format-args STATE CLUSTER_ID``."""
    if len(argv) == 2 and argv[0] == "render":
        state = Path(argv[1])
        ports = BrokerPorts(
            tls=int(os.environ["SENSEGATE_STACK_KAFKA_PORT"]),
            sasl=int(os.environ["SENSEGATE_STACK_KAFKA_SASL_PORT"]),
            controller=int(os.environ["SENSEGATE_STACK_KAFKA_CONTROLLER_PORT"]),
        )
        print(render(state, ports, password(state, "kafka-admin")))
        return 0
    if len(argv) == 3 and argv[0] == "format-args":
        state = Path(argv[1])
        print(format_argfile(state, argv[2], password(state, "kafka-admin")))
        return 0
    print("usage: python -m stack.kafka_conf render STATE | format-args STATE ID", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
