"""The stack's project CA and the certificates it issues (broker, database, client), kept in the state folder.

Usage: ``python -m stack.pki server STATE NAME HOST [HOST ...]`` writes ``STATE/pki/NAME.crt`` and
``NAME.key`` signed by the project CA (created on first use as ``STATE/pki/ca.crt``/``ca.key``);
``python -m stack.pki client STATE CN`` issues a client certificate whose subject CN is ``CN``.
Private keys are written with mode 0600. Existing certificates are kept while they stay valid for
at least 30 days, so a restarted stack keeps the identity its clients already trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "sensegate project CA"
CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class IssuedPair:
    """Paths of one issued certificate and its private key."""

    cert: Path
    key: Path


def pki_dir(state: Path) -> Path:
    """The folder that holds the CA and every issued pair."""
    path = state / "pki"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: a key must never be readable by others, even briefly.
    fd = os.open(
        path.with_suffix(path.suffix + ".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
    )
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(path.with_suffix(path.suffix + ".tmp"), path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _still_valid(cert_path: Path) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def ensure_ca(state: Path) -> IssuedPair:
    """Create the project CA once; returns its certificate and key paths."""
    folder = pki_dir(state)
    pair = IssuedPair(folder / "ca.crt", folder / "ca.key")
    if pair.key.exists() and _still_valid(pair.cert):
        return pair
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(pair.key, _key_pem(key))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def load_ca(state: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The project CA's certificate and private key (created on first use)."""
    pair = ensure_ca(state)
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        msg = f"project CA key {pair.key} is not an EC key"
        raise TypeError(msg)
    return cert, key


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue(
    state: Path,
    name: str,
    common_name: str,
    *,
    hosts: list[str] | None = None,
    client: bool = False,
    force: bool = False,
) -> IssuedPair:
    """Issue (or keep, while valid) a leaf certificate ``STATE/pki/<name>.crt`` signed by the project CA."""
    folder = pki_dir(state)
    pair = IssuedPair(folder / f"{name}.crt", folder / f"{name}.key")
    if not force and pair.key.exists() and _still_valid(pair.cert):
        return pair
    ca_cert, ca_key = load_ca(state)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(pair.key, _key_pem(key))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def main(argv: list[str]) -> int:
    """Command line: ``server STATE NAME HOST...`` or ``client STATE CN``; prints the paths."""
    if len(argv) >= 4 and argv[0] == "server":
        pair = issue(Path(argv[1]), argv[2], argv[2], hosts=argv[3:])
    elif len(argv) == 3 and argv[0] == "client":
        pair = issue(Path(argv[1]), f"client-{argv[2]}", argv[2], client=True)
    elif len(argv) == 2 and argv[0] == "ca":
        pair = ensure_ca(Path(argv[1]))
    else:
        print(
            "usage: python -m stack.pki ca STATE | server STATE NAME HOST... | client STATE CN",
            file=sys.stderr,
        )
        return 2
    print(pair.cert)
    print(pair.key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
