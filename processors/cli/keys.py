"""``python -m processors keys``: rotate, list, prune the stack's keys (pseudonym, share, signing).

Keyrings live in ``$SENSEGATE_STATE/secrets`` (see ``processors.keys``). ``rotate KIND`` makes a
new active key and retires the old one; services pick it up at their next start (``make down &&
make up``: the env files are rendered from the keyrings each time). Retired pseudonym and share
keys are kept for the longest retention in the catalog, then ``prune`` destroys them. A retired
signing key's private seed is destroyed at once, its public key kept: ``public`` prints the trust
set that ``provenance verify --trusted-keys`` takes. Nothing here prints a secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from processors.catalog import load_catalog
from processors.exceptions import ConfigurationError
from processors.keys import KeyKind, Keyring, keyring_path

__all__ = ["add_arguments", "retention_of", "run"]

ROOT = Path(__file__).resolve().parents[2]


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands: rotate, list, prune, public."""
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state folder (default $SENSEGATE_STATE or .state)",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("rotate", help="make a new active key; the old one is retired")
    r.add_argument("kind", choices=[k.value for k in KeyKind])
    sub.add_parser("list", help="key ids, creation and retirement times (no secrets)")
    p = sub.add_parser("prune", help="destroy retired keys past the catalog's longest retention")
    p.add_argument("--as-of", type=_time, default=None, help="ISO time to prune as of (default now)")
    p.add_argument("--catalog", type=Path, default=None, help="catalog folder (default catalog/)")
    sub.add_parser("public", help="print the signing public keys as a JSON list (trust set)")


def retention_of(catalog_dir: Path | None = None) -> timedelta:
    """How long a retired pseudonym/share key is kept: the longest retention of any dataset.

    Stored records cite their key id; while a record may still exist, so must the key that
    made its pseudonyms (for a data subject's lawful request); after that it is destroyed.
    """
    catalog = load_catalog(catalog_dir)
    return timedelta(days=max(e.retention_days for e in catalog.entries.values()))


def _rings(state: Path) -> list[Keyring]:
    """The keyrings present in the state folder."""
    return [Keyring.load(state, k) for k in KeyKind if keyring_path(state, k).exists()]


def run(args: argparse.Namespace) -> int:
    """Run one keys action; returns the exit code (2 with a message when a keyring is missing)."""
    try:
        return _run(args)
    except ConfigurationError as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    state = args.state or Path(os.environ.get("SENSEGATE_STATE", ROOT / ".state"))
    if args.action == "rotate":
        kind = KeyKind(args.kind)
        ring = Keyring.load(state, kind)
        old = ring.active_id
        new = ring.rotate()
        ring.save(state)
        print(f"{kind.value}: {new.key_id} active, {old} retired")
        print("restart the services to use it: make down && make up")
        return 0
    if args.action == "public":
        print(json.dumps(Keyring.load(state, KeyKind.SIGNING).public_keys()))
        return 0
    if args.action == "prune":
        retention = retention_of(args.catalog)
        for ring in _rings(state):
            kind = ring.kind
            gone = ring.prune(retention, args.as_of)
            ring.save(state)
            for key_id in gone:
                print(f"{kind.value}: destroyed {key_id} (retired over {retention.days} days ago)")
        return 0
    for ring in _rings(state):
        kind = ring.kind
        for key in sorted(ring.keys.values(), key=lambda k: k.created):
            status = "active" if key.key_id == ring.active_id else f"retired {key.retired:%Y-%m-%d}"
            held = "secret" if key.secret is not None else "public only"
            print(f"{kind.value:<10} {key.key_id:<28} created {key.created:%Y-%m-%d}  {status}  {held}")
    return 0
