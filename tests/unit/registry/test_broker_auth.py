"""Broker identities: names, the ACLs of each kind, the credential book and the refusal parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.broker_audit import classify
from processors.registry.broker_auth import BrokerIdentity, acls_for
from processors.registry.credentials import identity_for
from simulators.credentials import CredentialBook


def test_each_kind_may_publish_only_its_own_namespace() -> None:
    assert BrokerIdentity("rsu", "R1").publish == ("V2X/RSU/R1/#",)
    assert BrokerIdentity("lns-app", "a1").publish == ("application/a1/device/+/event/+",)
    node = BrokerIdentity("edge-node", "G/n1")
    assert node.publish == ("spBv1.0/G/+/n1/#",)
    assert set(node.subscribe) == {"spBv1.0/G/NCMD/n1", "spBv1.0/G/DCMD/n1/+", "spBv1.0/STATE/#"}
    assert BrokerIdentity("gateway", "sensegate").publish == ()
    host = BrokerIdentity("host-app", "sensegate")
    assert host.publish == ("spBv1.0/+/NCMD/+", "spBv1.0/+/DCMD/+/+", "spBv1.0/STATE/sensegate")
    assert all(a["allow"] for kind in ("rsu", "admin") for a in acls_for(BrokerIdentity(kind, "x")))
    monitor = BrokerIdentity("monitor", "sensegate")
    assert monitor.publish == ()
    assert monitor.subscribe == ("$SYS/broker/#",)
    assert monitor.username == "svc-monitor:sensegate"


@pytest.mark.parametrize("name", ["a/b", "+", "#", "", " x"])
def test_identity_names_cannot_widen_the_acl(name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        BrokerIdentity("rsu", name)


def test_user_name_round_trip_and_device_mapping() -> None:
    ident = BrokerIdentity("edge-node", "G/n1")
    assert ident.username == "spb:G/n1"
    assert BrokerIdentity.from_username(ident.username) == ident
    assert identity_for("iiot", "G/n1/dev", None) == ident
    assert identity_for("v2x", "R1", None).username == "rsu:R1"
    assert identity_for("agri", "0011223344556677", "app").username == "lns:app"
    with pytest.raises(ValueError, match="lorawan-application"):
        identity_for("agri", "0011223344556677", None)
    with pytest.raises(ValueError, match="unknown family 'weather'"):
        identity_for("weather", "w1", None)


def test_credential_book_routes_by_topic_and_connection(tmp_path: Path) -> None:
    doc = {
        "identities": [
            {"username": u, "password": "p", "publish": list(BrokerIdentity.from_username(u).publish)}
            for u in ("rsu:R1", "lns:app", "spb:G/n1")
        ]
    }
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(doc))
    book = CredentialBook.load(path)
    assert book.for_topic("V2X/RSU/R1/MAP/UP") is not None
    assert book.for_topic("V2X/RSU/R1/MAP/UP").username == "rsu:R1"  # type: ignore[union-attr]
    assert book.for_topic("V2X/RSU/R2/MAP/UP") is None
    assert book.for_topic("application/app/device/00/event/up").username == "lns:app"  # type: ignore[union-attr]
    assert book.for_connection("iiot:G/n1").username == "spb:G/n1"  # type: ignore[union-attr]
    assert book.for_connection("iiot:G/n2") is None


def test_refusal_lines_of_mosquitto_2_0() -> None:
    assert classify("1796: Client <unknown> disconnected, not authorised.") == "connect_not_authorized"
    assert classify("1796: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed") == "tls_refused"
    assert classify("1796: Client rsu:R1 been disconnected by administrative action.") == "kicked"
    assert classify("1796: Denied PUBLISH from c (d0, q1, r0, m2, 'V2X/RSU/B', ... (3 bytes))") == "publish_not_authorized"
    assert classify("1796: New client connected from 127.0.0.1") is None
