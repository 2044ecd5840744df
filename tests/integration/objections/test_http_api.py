"""The objection HTTP API over TLS: public submissions rate-limited, decisions only by the provider."""

from __future__ import annotations

import ssl
from pathlib import Path

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
from tests.integration.objections.http_client import api_call, self_signed_cert
from tests.integration.provenance.helpers import store

NOT_A_TOKEN = "not-" + "a-token"


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
    cert, key = self_signed_cert(tmp_path)
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
            status, doc = await api_call(port, ctx, "GET", "/openapi.json")
            assert status == 200
            assert "SubmitRequest" in doc["components"]["schemas"]
            assert "/cases/{case_id}/decision" in doc["paths"]
            assert "ShareKeyRequest" in doc["components"]["schemas"] and "/share-keys" in doc["paths"]

            claim = {"dataset": "agri_soil", "record_id": records[0].record_id, "claim": "too wet"}
            status, _ = await api_call(
                port, ctx, "POST", "/cases", {**claim, "dataset": "iiot_metric"}
            )
            assert status in (403, 404)  # not open data: no public objection
            codes = [(await api_call(port, ctx, "POST", "/cases", claim))[0] for _ in range(3)]
            assert codes == [201, 201, 429]  # the public is rate-limited, units are not
            status, made = await api_call(port, ctx, "POST", "/cases", claim, token=consumer)
            assert status == 201
            case_id = made["case_id"]
            assert made["provider"] == "jl_agri_bureau"

            status, _ = await api_call(
                port, ctx, "POST", "/cases", {"dataset": "agri_soil"}, token=consumer
            )
            assert status == 400

            decision = {"decision": "accept", "reason": "checking"}
            assert (await api_call(port, ctx, "POST", f"/cases/{case_id}/decision", decision))[
                0
            ] == 401
            assert (
                await api_call(
                    port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=NOT_A_TOKEN
                )
            )[0] == 401
            assert (
                await api_call(
                    port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=consumer
                )
            )[0] == 403
            status, view = await api_call(
                port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=provider
            )
            assert status == 200
            assert view["state"] == "ACCEPTED"
            status, _ = await api_call(
                port, ctx, "POST", f"/cases/{case_id}/decision", decision, token=provider
            )
            assert status == 409  # already accepted
            status, listed = await api_call(port, ctx, "GET", "/cases", token=provider)
            assert status == 200
            assert case_id in [c["case_id"] for c in listed]
            status, shown = await api_call(port, ctx, "GET", f"/cases/{case_id}", token=consumer)
            assert status == 200
            assert [e["state"] for e in shown["events"]] == ["RECEIVED", "ACCEPTED"]
        finally:
            await server.stop()
