"""The objection HTTP API over TLS: public submissions rate-limited, decisions only by the provider."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from processors.catalog import Catalog
from processors.objections.config import ObjectionsConfig
from processors.objections.http import ObjectionServer
from processors.objections.service import Objections
from processors.objections.store import issue_token
from processors.provenance.keys import Signer
from processors.sinks.config import ProvenanceConfig
from processors.sinks.timescale import connect
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses
from tests.integration.provenance.helpers import store

NOT_A_TOKEN = "not-" + "a-token"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "api.crt", directory / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )  # fmt: skip
    return cert_path, key_path


async def _call(
    port: int, ctx: ssl.SSLContext, method: str, path: str, body: Any = None, *,
    token: str | None = None,
) -> tuple[int, Any]:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    data = json.dumps(body).encode() if body is not None else b""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


async def test_api_rules(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    signing_seed: str,
    tmp_path: Path,
) -> None:
    records = list(soil_records(4))
    await store(stack.pg_dsn, pg_schema, catalog, records, provenance_config)
    cert, key = _self_signed(tmp_path)
    conn = await connect(stack.pg_dsn, pg_schema, "test-objections-api")
    async with conn:
        provider = await issue_token(conn, "jl_agri_bureau")
        consumer = await issue_token(conn, "jl_transport_dept")
        config = ObjectionsConfig(port=0, tls_cert=cert, tls_key=key, public_per_minute=3)
        obj = Objections(conn, catalog, Signer(SecretStr(signing_seed)))
        server = ObjectionServer(obj, config)
        await server.start()
        try:
            assert server.port is not None
            ctx = ssl.create_default_context(cafile=str(cert))
            port = server.port
            status, doc = await _call(port, ctx, "GET", "/openapi.json")
            assert status == 200
            assert "SubmitRequest" in doc["components"]["schemas"]
            assert "/cases/{case_id}/decision" in doc["paths"]

            claim = {"dataset": "agri_soil", "record_id": records[0].record_id, "claim": "too wet"}
            status, _ = await _call(
                port, ctx, "POST", "/cases", {**claim, "dataset": "iiot_metric"}
            )
            assert status in (403, 404)  # not open data: no public objection
            codes = [(await _call(port, ctx, "POST", "/cases", claim))[0] for _ in range(3)]
            assert codes == [201, 201, 429]  # the public is rate-limited, units are not
            status, made = await _call(port, ctx, "POST", "/cases", claim, token=consumer)
            assert status == 201
            case_id = made["case_id"]
            assert made["provider"] == "jl_agri_bureau"

            status, _ = await _call(
                port, ctx, "POST", "/cases", {"dataset": "agri_soil"}, token=consumer
            )
            assert status == 400

            decision = {"decision": "accept", "reason": "checking"}
            assert (await _call(port, ctx, "POST", f"/cases/{case_id}/decision", decision))[
                0
            ] == 401
            assert (
                await _call(
                    port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=NOT_A_TOKEN
                )
            )[0] == 401
            assert (
                await _call(
                    port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=consumer
                )
            )[0] == 403
            status, view = await _call(
                port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=provider
            )
            assert status == 200
            assert view["state"] == "ACCEPTED"
            status, _ = await _call(
                port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=provider
            )
            assert status == 409  # already accepted
            status, listed = await _call(port, ctx, "GET", "/cases", token=provider)
            assert status == 200
            assert case_id in [c["case_id"] for c in listed]
            status, shown = await _call(port, ctx, "GET", f"/cases/{case_id}", token=consumer)
            assert status == 200
            assert [e["state"] for e in shown["events"]] == ["RECEIVED", "ACCEPTED"]
        finally:
            await server.stop()
