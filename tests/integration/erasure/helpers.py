"""Helpers of the erasure tests: read a schema as text; open sealed Kafka values; pipeline-like rows."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql

from contracts.record import DatasetRecord, record_id_for
from contracts.sealed import KeyDestroyed, SealInvalid, open_token, raw_context
from processors.provenance.sealed_records import tier_key


def scan_db(dsn: str, schema: str) -> str:
    """Every row of every table in the schema as text (what a reader of the database could see)."""
    with psycopg.connect(dsn) as conn:
        tables = [
            t for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_type = 'BASE TABLE'", (schema,),
            ).fetchall()
        ]  # fmt: skip
        parts = []
        for t in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(t)
            )
            parts += [row[0] for row in conn.execute(query).fetchall()]
    return "\n".join(parts)


def live_keys(dsn: str, schema: str, table: str, columns: str) -> dict[str, bytes]:
    """Key id -> key of every key of ``table`` still present (what an attacker could use)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {}.{} WHERE data_key IS NOT NULL").format(
                sql.SQL(columns), sql.Identifier(schema), sql.Identifier(table)
            )
        ).fetchall()
    return {str(kid): bytes(key) for kid, key in rows}


def opened_json(value: bytes, keys: dict[str, bytes], tier: str) -> tuple[str, bool]:
    """A JSON record's text plus, when its ``sealed`` token opens with a live key, the plaintext.

    Returns the text and whether the record was sealed under a key that is gone.
    """
    doc: dict[str, Any] = json.loads(value)
    token = doc.get("sealed")
    if not token:
        return value.decode(), False
    context = f"{tier}|{doc['dataset']}|{doc['record_id']}"

    def lookup(kid: str) -> bytes | None:
        key = keys.get(kid)
        return None if key is None else tier_key(key, tier, doc["dataset"])

    try:
        return value.decode() + "\n" + open_token(token, lookup, context).decode(), False
    except KeyDestroyed:
        return value.decode(), True
    except SealInvalid as exc:  # a live key that does not open it: a broken producer
        msg = f"sealed value does not open with its own key: {exc}"
        raise AssertionError(msg) from exc


def opened_raw(value: bytes, headers: dict[str, str], keys: dict[str, bytes]) -> tuple[str, bool]:
    """A raw value's bytes as text plus, when sealed under a live raw epoch key, the payload."""
    text = value.decode("utf-8", "replace")
    if "sg.seal" not in headers:
        return text, False
    context = raw_context(headers["sg.family"], headers["sg.device"], int(headers["sg.rx_ns"]))
    try:
        return text + "\n" + open_token(text, keys.get, context).decode(), False
    except KeyDestroyed:
        return text, True


def as_pipeline(rows: list[DatasetRecord]) -> list[DatasetRecord]:
    """As the normalizer writes them: entity = the RSU, no identifier in the natural key."""
    out = []
    track: dict[object, int] = {}
    for r in rows:
        n = track.setdefault(r.values["ptc_id"], len(track))  # the participant's slot, not its id
        natural = r.natural_key.rsplit("|", 1)[0] + f"|p{n}"
        out.append(r.model_copy(update={
            "entity_id": "RSU-CC-0001", "natural_key": natural,
            "record_id": record_id_for("v2x_participant", natural),
        }))  # fmt: skip
    return out
