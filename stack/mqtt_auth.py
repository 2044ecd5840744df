"""Broker security bootstrap: certificates, the dynamic-security file, the services' identities.

``python -m stack.mqtt_auth init STATE`` (before the broker starts): the broker's server
certificate from the project CA (stack/pki.py), an (empty) certificate revocation list, and the
dynamic-security file holding only the admin client, whose generated password is written to
``STATE/mosquitto/broker.env`` (0600). ``python -m stack.mqtt_auth services STATE`` (broker
running): creates the gateway and Sparkplug host-application identities through the admin
client and writes their credentials to ``STATE/mosquitto/services.env`` (0600).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from contracts.credential import new_credential
from stack import pki

__all__ = [
    "ADMIN_USERNAME",
    "BROKER_HOSTS",
    "dynsec_password_fields",
    "init_broker_files",
    "read_env_file",
    "write_crl",
    "write_dynsec_file",
]

ADMIN_USERNAME = "svc-admin:sensegate"
BROKER_HOSTS = ("127.0.0.1", "localhost", "mosquitto")
# Mosquitto 2.0 verifies passwords with PBKDF2-HMAC-SHA512 over a 12-byte salt.
_ITERATIONS = 100_000


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(path.with_suffix(".tmp"), path)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (an ``export`` prefix allowed) of an env file; empty if missing."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.removeprefix("export ").partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def dynsec_password_fields(password: str) -> dict[str, object]:
    """The ``password``/``salt``/``iterations`` fields of a dynamic-security client."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": _ITERATIONS,
    }


def write_dynsec_file(
    path: Path, admin_password: str, extra: tuple[dict[str, object], ...] = ()
) -> None:
    """A dynamic-security file with the admin client (and ``extra`` clients), default deny."""
    from processors.registry.broker_auth import BrokerIdentity, acls_for

    admin = BrokerIdentity.from_username(ADMIN_USERNAME)
    doc = {
        "clients": [
            {
                "username": ADMIN_USERNAME,
                "textName": "sensegate registry administration",
                **dynsec_password_fields(admin_password),
                "roles": [{"rolename": ADMIN_USERNAME}],
            },
            *extra,
        ],
        "roles": [{"rolename": ADMIN_USERNAME, "acls": acls_for(admin)}],
        "groups": [],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
    }
    _write_private(path, json.dumps(doc, indent=1))


def write_crl(state: Path, revoked_serials: list[int]) -> Path:
    """Write ``STATE/pki/ca.crl`` (PEM) revoking ``revoked_serials``; returns its path."""
    ca_cert, ca_key = pki.load_ca(state)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=pki.LEAF_DAYS))
    )
    for serial in sorted(set(revoked_serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    path = pki.pki_dir(state) / "ca.crl"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)
    return path


def revoked_serials(state: Path) -> list[int]:
    """Serials already in ``STATE/pki/ca.crl`` (none when it does not exist)."""
    path = pki.pki_dir(state) / "ca.crl"
    if not path.exists():
        return []
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return [entry.serial_number for entry in crl]


def init_broker_files(state: Path) -> str:
    """Certificates, CRL and dynamic-security file for a first start; returns the admin password."""
    pki.issue(state, "mqtt-broker", "mqtt-broker", hosts=list(BROKER_HOSTS))
    if not (pki.pki_dir(state) / "ca.crl").exists():
        write_crl(state, [])
    env_file = state / "mosquitto" / "broker.env"
    dynsec = state / "mosquitto" / "dynamic-security.json"
    password = read_env_file(env_file).get("SENSEGATE_BROKER__MQTT__PASSWORD", "")
    if not password or not dynsec.exists():
        password = new_credential()
        write_dynsec_file(dynsec, password)
        _write_private(
            env_file,
            "# Written by stack/mqtt_auth.py: the broker's admin client (device registry CLI).\n"
            f"export SENSEGATE_BROKER__MQTT__USERNAME={ADMIN_USERNAME}\n"
            f"export SENSEGATE_BROKER__MQTT__PASSWORD={password}\n"
            f"export SENSEGATE_BROKER__PKI_STATE={state}\n"
            f"export SENSEGATE_BROKER__PID_FILE={state / 'mosquitto' / 'mosquitto.pid'}\n",
        )
    return password


def _services(state: Path, port: int, host: str = "127.0.0.1") -> int:
    from pydantic import SecretStr

    from contracts.settings import MqttConfig
    from processors.registry.broker_auth import BrokerIdentity, DynsecAdmin

    env_file = state / "mosquitto" / "services.env"
    known = read_env_file(env_file)
    admin_password = read_env_file(state / "mosquitto" / "broker.env")[
        "SENSEGATE_BROKER__MQTT__PASSWORD"
    ]
    config = MqttConfig(
        host=host, port=port, username=ADMIN_USERNAME, password=SecretStr(admin_password)
    )
    lines = ["# Written by stack/mqtt_auth.py: MQTT identities of the sensegate services."]
    with DynsecAdmin(config) as admin:
        for key, identity in (
            ("GATEWAY", BrokerIdentity("gateway", "sensegate")),
            ("HOSTAPP", BrokerIdentity("host-app", "sensegate")),
            ("MONITOR", BrokerIdentity("monitor", "sensegate")),
        ):
            password = known.get(f"{key}_MQTT_PASSWORD", "")
            if not password or not admin.exists(identity):
                password = new_credential()
                admin.ensure(identity, password)
            lines += [
                f"{key}_MQTT_USERNAME={identity.username}",
                f"{key}_MQTT_PASSWORD={password}",
            ]
    _write_private(env_file, "\n".join(lines) + "\n")
    return 0


def main(argv: list[str]) -> int:
    """``init STATE`` or ``services STATE PORT [HOST]``."""
    if len(argv) == 2 and argv[0] == "init":
        init_broker_files(Path(argv[1]))
        return 0
    if len(argv) in (3, 4) and argv[0] == "services":
        return _services(Path(argv[1]), int(argv[2]), *argv[3:])
    print(
        "usage: python -m stack.mqtt_auth init STATE | services STATE PORT [HOST]", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
