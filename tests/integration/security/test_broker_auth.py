"""Broker security against a real Mosquitto configured like the stack's (dynamic security, TLS).

Identities are issued by the device registry CLI (``devices add ... --credentials-out``), as an
operator would; reason codes are the numbers Mosquitto 2.0.11 sends under MQTT v5.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contracts.credential import new_credential
from processors.registry.broker_auth import BrokerIdentity, DynsecAdmin
from tests.fixtures.private_stack import PrivateMosquitto
from tests.fixtures.services import StackAddresses
from tests.integration.gateway.harness import (
    gateway_overrides,
    in_process_gateway,
    payload_for,
    read_kafka,
)
from tests.integration.security.helpers import client, close, devices_cli, publish_and_wait

NOT_AUTHORIZED = 0x87  # CONNACK and PUBACK reason code "Not authorized"
ADMINISTRATIVE_ACTION = 0x98  # DISCONNECT reason code of a session the registry ended

Broker = Callable[..., PrivateMosquitto]


def _issue(
    stack: StackAddresses, broker: PrivateMosquitto, schema: str, tmp: Path, *args: str
) -> dict[str, dict[str, Any]]:
    """Register devices through the CLI; returns the issued identities by user name."""
    out = tmp / f"cred-{uuid.uuid4().hex[:6]}.json"
    done = devices_cli(stack, broker, schema, *args, "--credentials-out", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return {i["username"]: i for i in json.loads(out.read_text())["identities"]}


@pytest.fixture
def schema(unique_name: Callable[[str], str]) -> str:
    """A registry schema of this test only."""
    return unique_name("sec")[:40]


def test_anonymous_and_wrong_password_refused_on_every_listener(
    private_mosquitto: Broker,
) -> None:
    broker = private_mosquitto()
    login = broker.login("publisher")
    for port, ca in ((broker.port, None), (broker.tls_port, broker.ca_file)):
        c, out = client(port, "anon", ca=ca)
        assert out.connack == NOT_AUTHORIZED, out
        close(c)
        c, out = client(port, "wrong", username=login.username, password=new_credential(), ca=ca)
        assert out.connack == NOT_AUTHORIZED, out
        close(c)
        c, out = client(port, "unknown", username="rsu:nobody", password=new_credential(), ca=ca)
        assert out.connack == NOT_AUTHORIZED, out
        close(c)
        c, out = client(port, "right", username=login.username, password=login.password, ca=ca)
        assert out.connack == 0, out
        close(c)
    # The mutual-TLS listener: no client certificate, no TLS session at all.
    c, out = client(broker.mtls_port, "anon-mtls", ca=broker.ca_file)
    assert out.connack is None and (out.error or out.disconnects), out
    close(c)


async def test_rsu_cannot_publish_as_another_rsu_and_refusals_are_counted(
    stack: StackAddresses,
    private_mosquitto: Broker,
    prefix: str,
    schema: str,
    tmp_path: Path,
) -> None:
    broker = private_mosquitto(debug_log=True)
    tok = uuid.uuid4().hex[:6]
    a, b = f"SEC-{tok}-A", f"SEC-{tok}-B"
    ids = _issue(stack, broker, schema, tmp_path, "import", str(_fleet_csv(tmp_path, a, b)))
    cred_a = ids[f"rsu:{a}"]
    assert cred_a["publish"] == [f"V2X/RSU/{a}/#"]
    doc = gateway_overrides(
        mqtt=broker.login("gateway"),
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{tok}",
        subscriptions=[f"V2X/RSU/{a}/+/UP/#", f"V2X/RSU/{b}/+/UP/#"],
        # Mosquitto 2.0.11 logs a denied PUBLISH at debug level, to its log file only.
        broker_log_file=str(broker.state / "mosquitto.log"),
    )
    async with in_process_gateway(doc) as gw:
        c, out = client(broker.port, f"rsu-{a}", username=cred_a["username"], password=cred_a["password"])
        assert out.connack == 0
        own = publish_and_wait(c, out, f"V2X/RSU/{a}/MAP/UP", payload_for(f"own-{tok}"))
        forged = publish_and_wait(c, out, f"V2X/RSU/{b}/MAP/UP", payload_for(f"forged-{tok}"))
        close(c)
        bad, bad_out = client(broker.port, "x", username=cred_a["username"], password=new_credential())
        close(bad)
        view = await read_kafka(
            stack.kafka_bootstrap, prefix, {f"own-{tok}"}, families=["v2x"], idle_s=4
        )
        await asyncio.sleep(1)  # the broker's log lines reach the audit client
        refusals = {
            r: gw.metrics.broker_refusals.labels(r)._value.get()
            for r in ("publish_not_authorized", "connect_not_authorized")
        }
    assert (own, forged, bad_out.connack) == (0, NOT_AUTHORIZED, NOT_AUTHORIZED)
    assert set(view.raw_ids) == {f"own-{tok}"}, "the forged message reached Kafka"
    assert refusals["publish_not_authorized"] >= 1
    assert refusals["connect_not_authorized"] >= 1
    log = (broker.state / "mosquitto.log").read_text()
    assert f"Denied PUBLISH from rsu-{a}" in log


def _fleet_csv(tmp: Path, *rsus: str) -> Path:
    rows = [
        "family,device_id,provider,datasets,codec,v2x_edition,v2x_framing,industrial_id,lat,lon"
    ]
    rows += [
        f"v2x,{r},jl_traffic_police,v2x_participant;v2x_signal_phase,uper,csae53-2019,false,,,"
        for r in rsus
    ]
    path = tmp / f"fleet-{uuid.uuid4().hex[:6]}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_lorawan_application_and_edge_node_stay_in_their_namespace(
    private_mosquitto: Broker,
) -> None:
    broker = private_mosquitto()
    app, node = BrokerIdentity("lns-app", "app-one"), BrokerIdentity("edge-node", "Plant/node-1")
    passwords = {app.username: new_credential(), node.username: new_credential()}
    with DynsecAdmin(broker.admin) as admin:
        for ident in (app, node):
            admin.ensure(ident, passwords[ident.username])
    c, out = client(broker.port, "lns", username=app.username, password=passwords[app.username])
    eui = "0011223344556677"
    assert publish_and_wait(c, out, f"application/app-one/device/{eui}/event/up", b"{}") == 0
    assert (
        publish_and_wait(c, out, f"application/app-two/device/{eui}/event/up", b"{}")
        == NOT_AUTHORIZED
    )
    close(c)
    c, out = client(broker.port, "node", username=node.username, password=passwords[node.username])
    assert publish_and_wait(c, out, "spBv1.0/Plant/NDATA/node-1", b"x") == 0
    assert publish_and_wait(c, out, "spBv1.0/Plant/DDATA/node-1/dev", b"x") == 0
    assert publish_and_wait(c, out, "spBv1.0/Plant/NDATA/node-2", b"x") == NOT_AUTHORIZED
    assert publish_and_wait(c, out, "spBv1.0/Other/NDATA/node-1", b"x") == NOT_AUTHORIZED
    close(c)


async def test_revoke_disconnects_a_connected_device_which_cannot_reconnect(
    stack: StackAddresses,
    private_mosquitto: Broker,
    prefix: str,
    schema: str,
    tmp_path: Path,
) -> None:
    broker = private_mosquitto()
    rsu = f"REV-{uuid.uuid4().hex[:6]}"
    ids = _issue(stack, broker, schema, tmp_path, "import", str(_fleet_csv(tmp_path, rsu)))
    cred = ids[f"rsu:{rsu}"]
    doc = gateway_overrides(
        mqtt=broker.login("gateway"),
        kafka=stack.kafka_bootstrap,
        prefix=prefix,
        instance=f"gw-{rsu}",
        subscriptions=[f"V2X/RSU/{rsu}/+/UP/#"],
    )
    async with in_process_gateway(doc):
        c, out = client(broker.port, rsu, username=cred["username"], password=cred["password"])
        assert publish_and_wait(c, out, f"V2X/RSU/{rsu}/MAP/UP", payload_for(f"before-{rsu}")) == 0
        done = devices_cli(stack, broker, schema, "revoke", "v2x", rsu)
        assert done.returncode == 0, done.stderr
        assert out.disconnected.wait(10)
        close(c)
        again, again_out = client(
            broker.port, rsu, username=cred["username"], password=cred["password"]
        )
        close(again)
        view = await read_kafka(
            stack.kafka_bootstrap, prefix, {f"before-{rsu}"}, families=["v2x"], idle_s=4
        )
    assert out.disconnects[0] == ADMINISTRATIVE_ACTION
    assert again_out.connack == NOT_AUTHORIZED
    assert set(view.raw_ids) == {f"before-{rsu}"}, "data published before the revocation stays"


def _foreign_certificate(tmp: Path, cn: str) -> tuple[Path, Path]:
    """A client certificate for ``cn`` signed by a CA that is not the project's."""
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the project CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + day)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "foreign.crt", tmp / "foreign.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def test_tls_trust_and_client_certificates(
    stack: StackAddresses, private_mosquitto: Broker, schema: str, tmp_path: Path
) -> None:
    broker = private_mosquitto()
    rsu = f"TLS-{uuid.uuid4().hex[:6]}"
    ids = _issue(
        stack, broker, schema, tmp_path, "import", str(_fleet_csv(tmp_path, rsu)), "--certificate"
    )
    cred = ids[f"rsu:{rsu}"]
    login = {"username": cred["username"], "password": cred["password"]}
    ca = tmp_path / "ca.crt"
    ca.write_text(cred["ca_certificate"])
    c, out = client(broker.tls_port, "trusts", ca=ca, **login)
    assert out.connack == 0, out
    close(c)
    # Trusting only the system's CAs: the broker's certificate does not verify.
    c, out = client(broker.tls_port, "distrusts", tls_default_trust=True, **login)
    assert out.connack is None and "CERTIFICATE_VERIFY_FAILED" in out.error, out
    close(c)
    # Mutual TLS with the issued certificate: CN = user name, no password sent.
    cert, key = tmp_path / "dev.crt", tmp_path / "dev.key"
    cert.write_text(cred["client_certificate"])
    key.write_text(cred["client_key"])
    c, out = client(broker.mtls_port, cred["client_id"], ca=ca, cert=(cert, key))
    assert out.connack == 0, out
    assert publish_and_wait(c, out, f"V2X/RSU/{rsu}/MAP/UP", b"x") == 0
    assert publish_and_wait(c, out, "V2X/RSU/someone-else/MAP/UP", b"x") == NOT_AUTHORIZED
    close(c)
    # A certificate with the same CN from another CA: no TLS session.
    c, out = client(broker.mtls_port, "forged", ca=ca, cert=_foreign_certificate(tmp_path, cred["username"]))
    assert out.connack is None, out
    close(c)
    # Revoked: the CRL (reread on SIGHUP) refuses the certificate at the handshake.
    done = devices_cli(stack, broker, schema, "revoke", "v2x", rsu)
    assert done.returncode == 0, done.stderr
    time.sleep(1)
    c, out = client(broker.mtls_port, cred["client_id"], ca=ca, cert=(cert, key))
    assert out.connack is None, out
    close(c)
