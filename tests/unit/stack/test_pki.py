from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from stack import pki


def test_server_certificate_verifies_against_project_ca(tmp_path: Path) -> None:
    pair = pki.issue(tmp_path, "mosquitto", "mosquitto", hosts=["127.0.0.1", "localhost"])
    ca = pki.ensure_ca(tmp_path)
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    cert.verify_directly_issued_by(ca_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    # The pair loads into an SSL context: key and certificate belong together.
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pair.cert, pair.key)


def test_private_keys_are_owner_only_and_reused(tmp_path: Path) -> None:
    first = pki.issue(tmp_path, "pg", "pg", hosts=["127.0.0.1"])
    for key in (first.key, pki.ensure_ca(tmp_path).key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = first.cert.read_bytes()
    assert pki.issue(tmp_path, "pg", "pg", hosts=["127.0.0.1"]).cert.read_bytes() == before


def test_client_certificate_carries_its_client_id(tmp_path: Path) -> None:
    pair = pki.issue(tmp_path, "client-RSU00001", "RSU00001", client=True)
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "RSU00001"
