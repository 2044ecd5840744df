"""``python -m processors catalog keygen|signer-add|propose|review|apply|log|diff``: C14 change control."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import psycopg

from contracts.settings import KafkaConfig
from processors.catalog import Catalog, CatalogError, DatasetEntry
from processors.catalog.change_log import ChangeEvent, ChangeLog, ensure_change_schema
from processors.catalog.changes import (
    Direction,
    Signer,
    definition_diff,
    key_id_of,
    load_private_key,
    public_key_b64,
    write_private_key,
)
from processors.catalog.ddl import ensure_schema
from processors.cli.settings import AdminSettings
from processors.share.grants import GrantError, GrantService, ensure_grant_schema
from processors.storage.connect import run_with_connection

__all__ = ["COMMANDS", "add_change_arguments", "propose_change", "run_change"]

COMMANDS = ("keygen", "signer-add", "propose", "review", "apply", "log", "diff")


def add_change_arguments(sub: Any) -> None:
    """Register the change-control sub-commands on ``catalog``'s sub-parser set."""
    keygen = sub.add_parser("keygen", help="new Ed25519 key (PEM, 0600) for a principal")
    keygen.add_argument("--principal", required=True)
    keygen.add_argument("--out", type=Path, required=True, help="private key file (not replaced)")
    keygen.add_argument("--register", action="store_true", help="also register it as a signer")
    signer = sub.add_parser("signer-add", help="register a principal's public key (base64)")
    signer.add_argument("--principal", required=True)
    signer.add_argument("--public-key", required=True)
    for name, text in (("propose", "propose the catalog file's entry as a change (signed)"),
                       ("review", "review a change as another principal (signed)"),
                       ("apply", "make an approved change effective (signed)")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("--principal", required=True)
        p.add_argument("--key", type=Path, required=True, help="the principal's private key")
        if name == "propose":
            p.add_argument("code")
        else:
            p.add_argument("change_id")
        if name == "review":
            p.add_argument("--decision", choices=("approve", "refuse"), required=True)
            p.add_argument("--note", default="")
    log = sub.add_parser("log", help="the signed change log, verified (one entry or all)")
    log.add_argument("code", nargs="?")
    log.add_argument("--json", action="store_true")
    diff = sub.add_parser("diff", help="fields that differ between two registered versions")
    diff.add_argument("code")
    diff.add_argument("v1", type=int)
    diff.add_argument("v2", type=int)


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _signer(args: argparse.Namespace) -> Signer:
    return Signer(args.principal, load_private_key(args.key))


async def propose_change(
    conn: psycopg.AsyncConnection[Any], entry: DatasetEntry, author: Signer, *, catalog: Catalog,
    kafka: KafkaConfig, schema: str,
) -> tuple[ChangeEvent, Direction, list[int]]:  # fmt: skip
    """C14: record a signed proposal; a tightening ends the entry's approved grants at once.

    Revoking removes the grant's Kafka ACLs and credential, so a live consumer is refused on
    its next fetch; the tightened version itself becomes effective only after review.
    """
    event, direction = await ChangeLog(conn, schema).propose(entry, author)
    await conn.commit()
    ended: list[int] = []
    if direction in ("tighten", "mixed"):
        why = f"C14: tightening change {event.change_id} of {entry.code} proposed"
        await ensure_grant_schema(conn, schema)
        grants = GrantService(conn, catalog, kafka, schema=schema, actor="catalog-change")
        for grant in await grants.list_grants("approved"):
            if grant.dataset == entry.code:
                await grants.revoke(grant.grant_id, why)
                ended.append(grant.grant_id)
    return event, direction, ended


async def _act(
    conn: psycopg.AsyncConnection[Any], args: argparse.Namespace, catalog: Catalog,
    settings: AdminSettings,
) -> int:  # fmt: skip
    schema = settings.db.schema_name
    await ensure_schema(conn, schema)
    await ensure_change_schema(conn, schema)
    log = ChangeLog(conn, schema)
    command = args.catalog_command
    if command == "signer-add":
        print(f"signer {args.principal}: key id {await log.add_signer(args.principal, args.public_key)}")
        return 0
    if command == "propose":
        entry = catalog.get(args.code)
        if entry is None:
            _err(f"no catalog entry {args.code!r} in the catalog files")
            return 1
        event, direction, ended = await propose_change(
            conn, entry, _signer(args), catalog=catalog, kafka=settings.kafka, schema=schema
        )
        print(f"change {event.change_id} proposed for {entry.code} ({direction}): "
              f"{', '.join(event.body['fields'])}")  # fmt: skip
        if direction in ("tighten", "mixed"):
            print(f"tightening: {len(ended)} outstanding grant(s) revoked at once {ended}")
        return 0
    if command == "review":
        event = await log.review(args.change_id, _signer(args),
                                 approve=args.decision == "approve", note=args.note)  # fmt: skip
        print(f"change {args.change_id} {event.body['decision']} by {event.actor}")
        return 0
    if command == "apply":
        result = await log.apply(args.change_id, _signer(args))
        await conn.commit()
        print(f"change {args.change_id} effective: {result.code} version {result.version}")
        # Loosening or neutral changes take effect only now; re-check every grant against it.
        await ensure_grant_schema(conn, schema)
        grants = GrantService(conn, catalog, settings.kafka, schema=schema, actor="catalog-change")
        expired = await grants.expire()
        print(f"grants re-checked: {len(expired)} ended")
        return 0
    if command == "log":
        return _print_log(await log.events(code=args.code), as_json=args.json)
    known = await log.registered(args.code)
    missing = [v for v in (args.v1, args.v2) if v not in known]
    if missing:
        _err(f"{args.code}: version(s) {missing} not registered (have {sorted(known)})")
        return 1
    for name, (old, new) in definition_diff(known[args.v1], known[args.v2]).items():
        print(f"{name}:\n  - {json.dumps(old, ensure_ascii=False)}\n  + "
              f"{json.dumps(new, ensure_ascii=False)}")  # fmt: skip
    return 0


def _print_log(events: list[Any], *, as_json: bool) -> int:
    if as_json:
        rows = [{"seq": e.seq, "verified": e.verified, "signature": e.signature} | e.body
                for e in events]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    for e in [] if as_json else events:
        extra = {
            "proposed": lambda b: f"{b['direction']} v{b['base_version']}->: {','.join(b['fields'])}",
            "reviewed": lambda b: f"{b['decision']} {b.get('note', '')}".rstrip(),
            "effective": lambda b: f"version {b['version']}",
        }[e.action](e.body)
        mark = "ok" if e.verified else "BAD SIGNATURE/CHAIN"
        print(f"{e.seq:>4} {e.body['at'][:19]} {e.code} {e.change_id} {e.action:<9} "
              f"{e.actor} key {e.key_id} [{mark}] {extra}")  # fmt: skip
    if not events:
        print("no catalog changes recorded")
    return 0 if all(e.verified for e in events) else 1


def run_change(args: argparse.Namespace, catalog: Catalog) -> int:
    """Run one change-control command; exit 1 with the reason when change control refuses."""
    if args.catalog_command == "keygen":
        try:
            key = write_private_key(args.out)
        except FileExistsError:
            _err(f"{args.out} exists; a key is never replaced")
            return 1
        public = public_key_b64(key.public_key())
        print(f"key {key_id_of(key.public_key())} for {args.principal}: public key {public}")
        if not args.register:
            return 0
        args.catalog_command, args.public_key = "signer-add", public
    settings = AdminSettings()
    dsn = settings.db.dsn.get_secret_value()
    try:
        return run_with_connection(dsn, lambda conn: _act(conn, args, catalog, settings))
    except (CatalogError, GrantError, ValueError, OSError, psycopg.Error) as exc:
        _err(f"catalog {args.catalog_command} refused: {exc}")
        return 1
