"""Broker credentials in the devices command: issue on add/import/approve, revoke, rotate."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from contracts.families import FAMILY_NAMES
from processors.registry.broker_auth import BrokerAdminError, BrokerIdentity, DynsecAdmin
from processors.registry.credentials import (
    BrokerSettings,
    active,
    identity_for,
    issue,
    revoke,
    vendor_sheet,
    write_credentials,
)

__all__ = ["add_issue_options", "add_revoke_parsers", "issue_for", "revoke_or_rotate"]


def add_issue_options(parser: argparse.ArgumentParser) -> None:
    """Options of the commands that register devices and so issue their credentials."""
    parser.add_argument(
        "--credentials-out",
        type=Path,
        help="write the issued credentials (JSON, mode 0600) here instead of printing them",
    )
    parser.add_argument(
        "--certificate", action="store_true", help="also issue a client certificate (mutual TLS)"
    )
    parser.add_argument(
        "--lorawan-application", help="agri: id of the network-server application publishing"
    )
    parser.add_argument(
        "--no-broker",
        action="store_true",
        help="register only; issue no broker credential (e.g. the identity is managed elsewhere)",
    )


def add_revoke_parsers(sub: Any) -> None:
    """``revoke`` and ``rotate-credentials``."""
    for name, text in (
        ("revoke", "delete the device's broker identity and disconnect it at once"),
        ("rotate-credentials", "replace the device's broker credential (old one stops working)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("family", choices=FAMILY_NAMES)
        p.add_argument("device_id")
        p.add_argument("--lorawan-application", help="agri: the application to revoke/rotate")
        if name == "rotate-credentials":
            p.add_argument("--credentials-out", type=Path)
            p.add_argument("--certificate", action="store_true")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _deliver(args: argparse.Namespace, sheets: list[dict[str, Any]]) -> None:
    out = getattr(args, "credentials_out", None)
    if out is None:
        # Shown once: sensegate keeps only a digest.
        sys.stdout.write(json.dumps({"identities": sheets}, indent=2) + "\n")
        return
    write_credentials(out, sheets)
    sys.stdout.write(f"credentials of {len(sheets)} identities written to {out} (0600)\n")


def issue_for(
    conn: psycopg.Connection[Any],
    settings: BrokerSettings | None,
    keys: Iterable[tuple[str, str]],
    args: argparse.Namespace,
    schema: str,
) -> int:
    """Issue a credential for each publishing identity of ``keys`` that has none yet."""
    if args.no_broker:
        _err("warning: --no-broker: no broker credential issued; these devices cannot connect")
        return 0
    if settings is None:
        _err(
            "broker administration is not configured (SENSEGATE_BROKER__MQTT__*): devices "
            "registered, no credential issued; rerun with the admin settings or pass --no-broker"
        )
        return 1
    identities: dict[str, BrokerIdentity] = {}
    sheets: list[dict[str, Any]] = []
    try:
        for family, device_id in keys:
            ident = identity_for(family, device_id, args.lorawan_application)
            identities.setdefault(ident.username, ident)
        with DynsecAdmin(settings.mqtt) as admin:
            for ident in identities.values():
                if active(conn, ident, schema) and admin.exists(ident):
                    sys.stdout.write(
                        f"{ident.username} already holds a credential (rotate-credentials replaces it)\n"
                    )
                    continue
                issued = issue(conn, admin, settings, ident, certificate=args.certificate, schema=schema)
                sheets.append(vendor_sheet(settings, issued))
    except (BrokerAdminError, ValueError) as exc:
        _err(f"broker credential not issued: {exc}")
        return 1
    if sheets:
        _deliver(args, sheets)
    return 0


def revoke_or_rotate(
    conn: psycopg.Connection[Any],
    settings: BrokerSettings | None,
    args: argparse.Namespace,
    schema: str,
) -> int:
    """``revoke`` / ``rotate-credentials`` / the broker half of ``remove``."""
    if settings is None:
        _err("broker administration is not configured (SENSEGATE_BROKER__MQTT__*)")
        return 1
    command = args.devices_command
    try:
        ident = identity_for(args.family, args.device_id, getattr(args, "lorawan_application", None))
        with DynsecAdmin(settings.mqtt) as admin:
            if command == "rotate-credentials":
                issued = issue(conn, admin, settings, ident, certificate=args.certificate, schema=schema)
                _deliver(args, [vendor_sheet(settings, issued)])
                return 0
            gone = revoke(conn, admin, settings, ident, schema=schema)
    except (BrokerAdminError, ValueError) as exc:
        _err(f"broker error: {exc}")
        return 1
    sys.stdout.write(
        f"revoked {ident.username} (disconnected, cannot reconnect)\n"
        if gone
        else f"{ident.username} held no credential\n"
    )
    return 0
