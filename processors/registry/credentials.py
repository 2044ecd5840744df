"""Issue, rotate and revoke broker credentials for registered devices; the registry keeps hashes.

A device's publishing identity is its RSU (v2x), its network server's application (agri: LoRaWAN
devices do not speak MQTT) or its Sparkplug edge node (iiot). Issuing creates the identity's
client and role on the broker (``DynsecAdmin``), optionally a client certificate from the project
CA (mutual TLS, CN = user name), and records only SHA-256 digests in ``<schema>.broker_credential``.
Revoking deletes the client (the broker disconnects it at once) and puts its certificate on the
CRL, which the broker rereads on SIGHUP.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from contracts.credential import new_credential
from contracts.families import FAMILIES
from contracts.settings import MqttConfig
from processors.catalog.ddl import render
from processors.registry.broker_auth import BrokerIdentity, DynsecAdmin, IdentityKind

__all__ = [
    "BrokerSettings",
    "IssuedCredential",
    "identity_for",
    "issue",
    "revoke",
    "vendor_sheet",
    "write_credentials",
]


class BrokerSettings(BaseModel):
    """How the registry reaches the broker's admin client and where the project CA lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mqtt: MqttConfig = Field(description="admin client connection (svc-admin identity)")
    pki_state: Path | None = Field(
        default=None, description="state folder holding pki/ca.crt and ca.key (certificates)"
    )
    pid_file: Path | None = Field(
        default=None, description="broker pid file: SIGHUP after a CRL change (same host only)"
    )
    public_host: str = Field(default="127.0.0.1", description="broker host told to vendors")
    tls_port: int = Field(default=18883, ge=1, le=65535, description="MQTT over TLS port")
    mtls_port: int = Field(default=18884, ge=1, le=65535, description="mutual TLS port")


@dataclass(frozen=True)
class IssuedCredential:
    """One issued credential: shown once, never stored by sensegate."""

    identity: BrokerIdentity
    password: str
    cert_pem: str | None = None
    key_pem: str | None = None


# The identity kinds a device family may publish with (the others are the services' own).
_DEVICE_KINDS: dict[str, IdentityKind] = {
    "rsu": "rsu",
    "lns-app": "lns-app",
    "edge-node": "edge-node",
}


def identity_for(family: str, device_id: str, lorawan_application: str | None) -> BrokerIdentity:
    """The broker identity that publishes the data of device ``family``/``device_id``."""
    fam = FAMILIES.find(family)
    if fam is None:
        raise ValueError(FAMILIES.name_problem(family))
    kind = _DEVICE_KINDS.get(fam.broker_role)
    if kind is None:
        msg = f"family {family}: broker role {fam.broker_role!r} is not a device identity kind"
        raise ValueError(msg)
    if fam.broker_login == "unit":
        return BrokerIdentity(kind, fam.kafka_key(device_id))
    if not lorawan_application:
        msg = (
            f"{family} device {device_id} publishes through its network server's application: "
            "give --lorawan-application"
        )
        raise ValueError(msg)
    return BrokerIdentity(kind, lorawan_application)


def _ensure_table(conn: psycopg.Connection[Any], schema: str) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL(render("0120_broker_credentials.sql")))


def active(conn: psycopg.Connection[Any], identity: BrokerIdentity, schema: str) -> bool:
    """True when ``identity`` holds a credential that was not revoked."""
    _ensure_table(conn, schema)
    row = conn.execute(
        sql.SQL(
            "SELECT 1 FROM {}.broker_credential WHERE username = %s AND revoked_at IS NULL"
        ).format(sql.Identifier(schema)),
        (identity.username,),
    ).fetchone()
    return row is not None


def _serial_of(conn: psycopg.Connection[Any], identity: BrokerIdentity, schema: str) -> int | None:
    row = conn.execute(
        sql.SQL("SELECT cert_serial FROM {}.broker_credential WHERE username = %s").format(
            sql.Identifier(schema)
        ),
        (identity.username,),
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _client_certificate(settings: BrokerSettings, identity: BrokerIdentity) -> tuple[str, str]:
    from stack import pki

    if settings.pki_state is None:
        msg = "--certificate needs SENSEGATE_BROKER__PKI_STATE (the folder of pki/ca.key)"
        raise ValueError(msg)
    name = "client-" + hashlib.sha256(identity.username.encode()).hexdigest()[:16]
    pair = pki.issue(settings.pki_state, name, identity.username, client=True, force=True)
    key_pem = pair.key.read_text()
    pair.key.unlink()  # the private key belongs to the device vendor alone
    return pair.cert.read_text(), key_pem


def _revoke_serial(settings: BrokerSettings, serial: int | None) -> None:
    if serial is None or settings.pki_state is None:
        return
    from stack.mqtt_auth import revoked_serials, write_crl

    write_crl(settings.pki_state, [*revoked_serials(settings.pki_state), serial])
    if settings.pid_file is not None and settings.pid_file.exists():
        # Mosquitto rereads its CRL on SIGHUP (tested in tests/integration/security).
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(settings.pid_file.read_text().split()[0]), signal.SIGHUP)


def issue(
    conn: psycopg.Connection[Any],
    admin: DynsecAdmin,
    settings: BrokerSettings,
    identity: BrokerIdentity,
    *,
    certificate: bool = False,
    schema: str = "sensegate",
) -> IssuedCredential:
    """Create (or replace) ``identity`` on the broker with a fresh secret; record its digests."""
    _ensure_table(conn, schema)
    old_serial = _serial_of(conn, identity, schema)
    password = new_credential()
    cert_pem = key_pem = None
    serial = cert_sha = None
    if certificate:
        cert_pem, key_pem = _client_certificate(settings, identity)
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        serial = cert.serial_number
        cert_sha = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    admin.ensure(identity, password)
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.broker_credential (username, kind, name, secret_sha256, cert_sha256,"
            " cert_serial) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (username) DO UPDATE SET"
            " secret_sha256 = EXCLUDED.secret_sha256, cert_sha256 = EXCLUDED.cert_sha256,"
            " cert_serial = EXCLUDED.cert_serial, issued_at = now(), revoked_at = NULL"
        ).format(sql.Identifier(schema)),
        (
            identity.username,
            identity.kind,
            identity.name,
            hashlib.sha256(password.encode()).hexdigest(),
            cert_sha,
            serial,
        ),
    )
    conn.commit()
    if old_serial is not None and old_serial != serial:
        _revoke_serial(settings, old_serial)  # a rotated certificate must stop working too
    return IssuedCredential(identity, password, cert_pem, key_pem)


def revoke(
    conn: psycopg.Connection[Any],
    admin: DynsecAdmin,
    settings: BrokerSettings,
    identity: BrokerIdentity,
    *,
    schema: str = "sensegate",
) -> bool:
    """Delete ``identity`` from the broker (disconnecting it) and revoke its certificate."""
    _ensure_table(conn, schema)
    existed = admin.delete(identity)
    admin.delete_role(identity)
    cur = conn.execute(
        sql.SQL(
            "UPDATE {}.broker_credential SET revoked_at = now() "
            "WHERE username = %s AND revoked_at IS NULL"
        ).format(sql.Identifier(schema)),
        (identity.username,),
    )
    conn.commit()
    _revoke_serial(settings, _serial_of(conn, identity, schema))
    return existed or cur.rowcount > 0


def vendor_sheet(settings: BrokerSettings, issued: IssuedCredential) -> dict[str, Any]:
    """What a device vendor receives: where to connect, as whom, with what, and which topics."""
    ident = issued.identity
    ca = settings.pki_state / "pki" / "ca.crt" if settings.pki_state else None
    sheet: dict[str, Any] = {
        "kind": ident.kind,
        "name": ident.name,
        "client_id": ident.username,
        "username": ident.username,
        "password": issued.password,
        "broker": {
            "host": settings.public_host,
            "tls_port": settings.tls_port,
            "mtls_port": settings.mtls_port,
        },
        "ca_certificate": ca.read_text() if ca and ca.exists() else None,
        "publish": list(ident.publish),
        "subscribe": list(ident.subscribe),
    }
    if issued.cert_pem:
        sheet["client_certificate"] = issued.cert_pem
        sheet["client_key"] = issued.key_pem
    return sheet


def write_credentials(path: Path, sheets: list[dict[str, Any]]) -> None:
    """Write ``{"identities": [...]}`` to ``path`` with mode 0600 (created so from the start)."""
    # O_EXCL: never overwrite (or widen the mode of) a file that may hold other secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"identities": sheets}, fh, indent=2)
        fh.write("\n")
