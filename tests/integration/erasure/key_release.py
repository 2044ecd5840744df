"""The unit API of the erasure tests: the objection server under its own role, tokens, a share grant."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import sql
from pydantic import SecretStr

from contracts.record import DatasetRecord
from contracts.sealed import KeyDestroyed, KeyLookup, kid_of
from processors.catalog import Catalog
from processors.objections.config import ObjectionsConfig
from processors.objections.http import ObjectionServer
from processors.objections.service import Objections
from processors.objections.store import issue_token
from processors.provenance.keys import Signer
from processors.provenance.sealed_records import open_model
from processors.share.key_release import decode_share_key
from processors.sinks.timescale import connect
from tests.integration.objections.http_client import api_call, self_signed_cert


@dataclass(frozen=True)
class UnitApi:
    """A running objection server (TLS) and the way to call its share-key route."""

    port: int
    ctx: ssl.SSLContext

    async def share_keys(
        self, token: str | None, dataset: str, kids: Sequence[str]
    ) -> tuple[int, Any]:
        """``POST /share-keys``: the status and the JSON body."""
        body = {"dataset": dataset, "key_ids": sorted(set(kids))}
        return await api_call(self.port, self.ctx, "POST", "/share-keys", body, token=token)


@asynccontextmanager
async def unit_api(
    dsn: str, schema: str, catalog: Catalog, seed: str, directory: Path
) -> AsyncIterator[UnitApi]:
    """The objection HTTP API on a free port, connected as ``dsn`` (the objections role)."""
    cert, key = self_signed_cert(directory)
    conn = await connect(dsn, schema, "test-unit-api")
    async with conn:
        server = ObjectionServer(
            Objections(conn, catalog, Signer(SecretStr(seed))),
            ObjectionsConfig(port=0, tls_cert=cert, tls_key=key),
        )
        await server.start()
        try:
            assert server.port is not None
            yield UnitApi(server.port, ssl.create_default_context(cafile=str(cert)))
        finally:
            await server.stop()


async def unit_with_share_grant(
    owner_dsn: str, schema: str, unit: str, dataset: str, *, granted: bool
) -> str:
    """A token for ``unit``, and (``granted``) an approved share grant on ``dataset`` as the
    operator's ``grants approve`` leaves it in the database."""
    conn = await connect(owner_dsn, schema, "test-unit-setup")
    async with conn:
        token = await issue_token(conn, unit)
        if granted:
            now = datetime.now(UTC)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {}.access_grant (applicant, dataset, tier, purpose, scope, "
                    "legal_basis, valid_until, catalog_version, status, topics, principal, "
                    "decided_at, decided_by) VALUES (%s, %s, 'share', 'traffic_management', "
                    "%s, 'test grant', %s, 1, 'approved', %s, %s, %s, 'test')"
                ).format(sql.Identifier(schema)),
                (
                    unit, dataset, unit, now + timedelta(days=1), [f"share.{dataset}"],
                    f"grant-{unit}", now,
                ),
            )  # fmt: skip
    return token


def _fixed(key: bytes | None) -> KeyLookup:
    def lookup(_kid: str) -> bytes | None:
        return key

    return lookup


def open_share(values: Sequence[bytes], keys: dict[str, str | None]) -> tuple[str, int]:
    """The share records opened with released keys (as text), and how many stayed shut (erased)."""
    text, shut = [], 0
    for value in values:
        record = DatasetRecord.from_kafka_value(value)
        if record.sealed is None:
            text.append(value.decode())
            continue
        released = keys.get(kid_of(record.sealed))
        key = None if released is None else decode_share_key(released)
        try:
            opened = open_model(record, _fixed(key), tier="share")
        except KeyDestroyed:
            shut += 1
            continue
        text.append(opened.model_dump_json())
    return "\n".join(text), shut
