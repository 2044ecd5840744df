"""C14 change control in the real PostgreSQL: signed proposals, review by another principal, history."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from processors.catalog import ChangeError, RegistrationError, load_catalog, register_catalog
from processors.catalog.change_log import ChangeLog, ensure_change_schema
from processors.catalog.changes import Signer, public_key_b64
from processors.catalog.store import drifted_entries
from processors.cli.catalog import write_back_version
from tests.fixtures.services import StackAddresses

CATALOG = Path(__file__).resolve().parents[3] / "catalog"


def _signer(name: str) -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


async def test_change_needs_signed_review_by_another_principal(
    stack: StackAddresses, schema: str, tmp_path: Path
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(CATALOG, root)
    alice, bob, mallory = _signer("alice"), _signer("bob"), _signer("mallory")
    async with await psycopg.AsyncConnection.connect(stack.pg_dsn) as conn:
        await register_catalog(conn, load_catalog(root), schema)
        await ensure_change_schema(conn, schema)
        log = ChangeLog(conn, schema)
        for who in (alice, bob):
            await log.add_signer(who.principal, public_key_b64(who.key.public_key()))

        text = (root / "agri_weather.yaml").read_text(encoding="utf-8")
        edited = text.replace("retention_days: 3650", "retention_days: 900")
        (root / "agri_weather.yaml").write_text(edited)
        changed = load_catalog(root)
        # registering the edited file directly is a change applied without review: refused
        with pytest.raises(RegistrationError, match=r"C14: agri_weather: .*no reviewed change"):
            await register_catalog(conn, changed, schema)
        # ... and the normalizer refuses the edited definition's records (C14 in the services)
        drift = await drifted_entries(conn, changed, schema)
        assert list(drift) == ["agri_weather"] and "unreviewed change" in drift["agri_weather"]
        entry = changed.get("agri_weather")
        assert entry is not None
        with pytest.raises(ChangeError, match="not a registered signer"):
            await log.propose(entry, mallory)  # unknown key: unsigned in the log's eyes
        event, direction = await log.propose(entry, alice)
        await conn.commit()
        assert direction == "neutral" and event.body["fields"] == ["retention_days"]
        change = event.change_id
        with pytest.raises(ChangeError, match="not reviewed"):
            await log.apply(change, alice)  # proposed and applied without review
        await conn.rollback()
        with pytest.raises(ChangeError, match="its own author"):
            await log.review(change, alice, approve=True)
        await conn.rollback()
        await log.review(change, bob, approve=True, note="retention per archive rule")
        result = await log.apply(change, alice)
        await conn.commit()
        assert (result.code, result.version) == ("agri_weather", 2)
        with pytest.raises(ChangeError, match="already"):
            await log.apply(change, alice)
        await conn.rollback()
        # the file's content is the effective version: registering it is a no-op, and once the
        # file declares that version the services run it
        again = {r.code: r for r in await register_catalog(conn, changed, schema)}
        assert (again["agri_weather"].action, again["agri_weather"].version) == ("unchanged", 2)
        assert write_back_version(root, "agri_weather", 2)
        assert await drifted_entries(conn, load_catalog(root), schema) == {}

        events = await log.events("agri_weather")
        assert [(e.action, e.actor) for e in events] == [
            ("proposed", "alice"), ("reviewed", "bob"), ("effective", "alice")
        ]
        assert all(e.verified for e in events)
        assert events[1].prev_sha256 == events[0].body_sha256

        # history cannot be rewritten, and a forged row fails verification
        with pytest.raises(psycopg.errors.RestrictViolation):
            await conn.execute(
                sql.SQL("UPDATE {}.catalog_change_event SET actor = 'eve'").format(
                    sql.Identifier(schema)
                )
            )
        await conn.rollback()
        forged = events[1].body | {"note": "forged", "prev_sha256": events[-1].body_sha256}
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.catalog_change_event (change_id, code, action, actor, key_id, body,"
                " body_sha256, prev_sha256, signature) VALUES (%s,%s,'reviewed','bob',%s,%s,%s,%s,%s)"
            ).format(sql.Identifier(schema)),
            (change, "agri_weather", bob.key_id, psycopg.types.json.Jsonb(forged), "f" * 64,
             events[-1].body_sha256, events[1].signature),
        )  # fmt: skip
        await conn.commit()
        assert [e.verified for e in await log.events("agri_weather")] == [True, True, True, False]
