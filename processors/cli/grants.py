"""``python -m processors grants``: apply for, review, list and end access grants; bootstrap principals."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from contracts.credential import new_credential
from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.cli.settings import AdminSettings
from processors.share.grants import (
    GrantError,
    GrantService,
    ensure_grant_schema,
    format_grant,
    grant_rows,
)
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.principals import SERVICES, service_acls

__all__ = ["add_arguments", "run"]


def _until(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands: apply, list, show, approve, refuse, revoke, expire, bootstrap-principals."""
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog folder (default catalog/)"
    )
    parser.add_argument("--schema", default=None, help="database schema (default from settings)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ap = sub.add_parser("apply", help="record an application")
    ap.add_argument("--applicant", required=True, help="applicant unit code")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--tier", required=True, choices=("share", "open"))
    ap.add_argument("--purpose", required=True)
    ap.add_argument("--scope", required=True, help="what the data will be used for / where")
    ap.add_argument("--until", required=True, type=_until, help="ISO 8601 end of validity")
    ap.add_argument("--legal-basis", required=True)
    ls = sub.add_parser("list", help="list grants")
    ls.add_argument("--status", choices=("pending", "approved", "refused", "revoked", "expired"))
    for name in ("show", "approve", "revoke"):
        p = sub.add_parser(name, help=f"{name} a grant")
        p.add_argument("grant_id", type=int)
    rf = sub.add_parser("refuse", help="refuse a pending grant")
    rf.add_argument("grant_id", type=int)
    rf.add_argument("--why", required=True)
    sub.add_parser("expire", help="end grants past their validity or no longer allowed")
    bp = sub.add_parser("bootstrap-principals", help="ACLs of the pipeline services")
    bp.add_argument("--apply", action="store_true", help="create the ACLs (default: print them)")
    bp.add_argument(
        "--create-users",
        action="store_true",
        help="also create SCRAM users with random passwords (printed once)",
    )
    bp.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="with --create-users: write the credentials to this file (mode 600) instead of printing",
    )


async def _bootstrap(settings: AdminSettings, args: argparse.Namespace) -> int:
    derived = [e.code for e in load_catalog(args.catalog) if e.derived_from]
    acls = [a for s in SERVICES for a in service_acls(s, settings.kafka.topic_prefix, derived)]
    for acl in acls:
        print(acl.describe())
    if not args.apply and not args.create_users:
        return 0
    async with KafkaSecurityAdmin(settings.kafka) as admin:
        if args.create_users:
            lines = []
            for service, (user, _group) in SERVICES.items():
                password = new_credential()
                await admin.upsert_scram_user(user, password)
                if args.env_file is None:
                    print(f"user {user} password {password}")
                key = service.upper()
                lines += [f"{key}_SASL_USERNAME={user}", f"{key}_SASL_PASSWORD={password}"]
            if args.env_file is not None:
                args.env_file.touch(mode=0o600)
                args.env_file.write_text("\n".join(lines) + "\n")
                print(f"credentials of {len(SERVICES)} service principals in {args.env_file}")
        if args.apply:
            await admin.create_acls(acls)
            print(f"{len(acls)} ACLs applied")
    return 0


async def _main(args: argparse.Namespace) -> int:
    settings = load_settings(AdminSettings, eager=False)
    if args.action == "bootstrap-principals":
        return await _bootstrap(settings, args)
    catalog = load_catalog(args.catalog)
    schema = args.schema or settings.db.schema_name
    dsn = settings.db.dsn.get_secret_value()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await ensure_grant_schema(conn, schema)
        service = GrantService(
            conn, catalog, settings.kafka, schema=schema, actor=getpass.getuser()
        )
        result: Any
        if args.action == "apply":
            result = await service.apply(
                applicant=args.applicant,
                dataset=args.dataset,
                tier=args.tier,
                purpose=args.purpose,
                scope=args.scope,
                legal_basis=args.legal_basis,
                until=args.until,
            )
            print(f"grant {result.grant_id} recorded, pending review")
        elif args.action == "list":
            for line in grant_rows(await service.list_grants(args.status)):
                print(line)
        elif args.action == "show":
            print(format_grant(await service.get(args.grant_id)))
            for at, action, actor, detail in await service.events(args.grant_id):
                print(f"  {at:%Y-%m-%d %H:%M:%S} {action} by {actor}: {detail or ''}")
        elif args.action == "approve":
            grant, password = await service.approve(args.grant_id)
            print(format_grant(grant))
            print(f"  password      {password}   (shown once; hand it over securely)")
        elif args.action == "refuse":
            print(format_grant(await service.refuse(args.grant_id, args.why)))
        elif args.action == "revoke":
            print(format_grant(await service.revoke(args.grant_id)))
        elif args.action == "expire":
            for grant in await service.expire():
                print(f"grant {grant.grant_id} {grant.status}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one grants action; exit code 1 with a message when the action is not allowed."""
    try:
        return asyncio.run(_main(args))
    except GrantError as exc:
        print(f"grants: {exc}", file=sys.stderr)
        return 1
