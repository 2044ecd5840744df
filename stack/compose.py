"""docker-compose's secrets and configuration, generated on the host: ``make compose-secrets``.

``python -m stack.compose [DIR]`` (default ``.state/compose``) fills DIR the way ``make stack-up``
fills the native state folder: every password and keyring (0600), the project CA with the
``kafka`` and ``postgres`` server certificates, the broker's rendered configuration and format
arguments, and one ``env_file`` per service in ``DIR/secrets/compose/`` holding only that
service's secrets. docker-compose.yml mounts DIR read-only at ``/etc/sensegate`` and names those
env files; it holds no password itself. Existing secrets are kept (run it again after a rotation).
"""

from __future__ import annotations

import base64
import sys
import uuid
from pathlib import Path

from processors.keys import write_private
from stack import pki
from stack.credentials import Addresses, init, password, render_env
from stack.kafka_conf import BrokerPorts, format_argfile, render

__all__ = ["CA", "INSIDE", "generate"]

ROOT = Path(__file__).resolve().parents[1]
INSIDE = Path("/etc/sensegate")  # where kafka, postgres and init (root) see DIR
CA = Path("/etc/sensegate-ca/ca.crt")  # the CA alone, mounted for the non-root service containers
PORTS = BrokerPorts(tls=19092, sasl=19095, controller=19093)
PG_PORT = 15432


def generate(folder: Path) -> list[Path]:
    """Create or refresh everything docker-compose.yml mounts; returns the env files."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    init(folder)
    pki.ensure_ca(folder)
    pki.issue(folder, "postgres", "postgres", hosts=["postgres", "localhost", "127.0.0.1"])
    admin = password(folder, "kafka-admin")
    render(folder, PORTS, admin, host="kafka", bind="0.0.0.0", inside=INSIDE)  # noqa: S104
    cluster = folder / "kafka" / "cluster.id"
    if not cluster.exists():
        cluster.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())
    format_argfile(folder, cluster.read_text().strip(), admin, inside=INSIDE)
    ca = CA
    (folder / "kafka" / "data").mkdir(parents=True, exist_ok=True)  # mount point of its volume
    # TLS and SCRAM only; installed into the container by its entrypoint (root), like the key.
    hba = "hostssl all all all scram-sha-256\nhostnossl all all all reject\nlocal all all scram-sha-256\n"
    (folder / "postgres").mkdir(exist_ok=True)
    (folder / "postgres" / "pg_hba.conf").write_text(hba)
    write_private(
        folder / "stack.env",
        "\n".join(
            [
                "# Written by stack/compose.py: addresses inside the compose network (no secrets).",
                f"export SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=kafka:{PORTS.tls}",
                f"export SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP=kafka:{PORTS.sasl}",
                f"export SENSEGATE_STACK_PG_PORT={PG_PORT}",
                "export SENSEGATE_STACK_PG_HOST=postgres",
                f"export SENSEGATE_STACK_CA={ca}",
            ]
        )
        + "\n",
    )
    addr = Addresses(
        state=folder,
        kafka_bootstrap=f"kafka:{PORTS.tls}",
        kafka_sasl_bootstrap=f"kafka:{PORTS.sasl}",
        pg_port=PG_PORT,
        pg_host="postgres",
        ca_path=ca,
    )
    return render_env(folder, addr, compose=True)


def main(argv: list[str]) -> int:
    """``python -m stack.compose [DIR]``; prints the env files written."""
    folder = Path(argv[0]) if argv else ROOT / ".state" / "compose"
    for path in generate(folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
