"""``python -m processors profiles validate|register|list|show``: device profiles as code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

import psycopg

from contracts.secrets import load_settings
from processors.catalog import Catalog, CatalogError, load_catalog
from processors.cli.catalog import write_back_version
from processors.cli.settings import AdminSettings
from processors.profiles import DEFAULT_PROFILES_DIR, Profile, ProfileError, load_profiles
from processors.profiles.store import fetch_profiles, register_profiles
from processors.storage.connect import run_with_connection

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``profiles``."""
    parser.add_argument("--catalog", type=Path, default=None, help="catalog directory")
    parser.add_argument(
        "--profiles", type=Path, default=None, help="profiles directory (default <repo>/profiles)"
    )
    sub = parser.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)
    validate = sub.add_parser("validate", help="check profiles against the catalog; exit 1 if not")
    validate.add_argument("path", nargs="?", type=Path, default=None, help="a file or directory")
    register = sub.add_parser("register", help="register profiles in PostgreSQL with versions")
    register.add_argument("path", nargs="?", type=Path, default=None, help="a file or directory")
    register.add_argument(
        "--no-write-back",
        action="store_true",
        help="do not update 'version:' in the YAML file when a new version is assigned",
    )
    listing = sub.add_parser("list", help="registered profiles (and file-only ones)")
    listing.add_argument("--files", action="store_true", help="the files only, no database")
    show = sub.add_parser("show", help="one profile's definition as JSON")
    show.add_argument("name")
    show.add_argument("--version", type=int, default=None, help="registered version")


def _out(text: str, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _line(p: Profile, origin: str) -> str:
    datasets = ";".join(p.datasets)
    return f"{p.name:28} v{p.version:<3} {p.family:5} {p.codec:22} {datasets:26} [{origin}]"


def _register(args: argparse.Namespace, profiles: tuple[Profile, ...], catalog: Catalog) -> int:
    settings = load_settings(AdminSettings, eager=False)
    results = run_with_connection(
        settings.db.dsn.get_secret_value(),
        lambda conn: register_profiles(conn, profiles, catalog, settings.db.schema_name),
    )
    base: Path = args.path or args.profiles or DEFAULT_PROFILES_DIR
    for r in results:
        _out(f"{r.name}: version {r.version} ({r.action}, declared {r.declared_version})")
        # A changed file gets the version registration assigned, so file and database agree.
        if r.version > r.declared_version and not args.no_write_back:
            target = base if base.is_file() else base / f"{r.name}.yaml"
            if target.is_file() and write_back_version(target, r.name, r.version):
                _out(f"  {target.name}: version set to {r.version}")
    return 0


def _registered() -> list[Profile]:
    settings = load_settings(AdminSettings, eager=False)
    return run_with_connection(
        settings.db.dsn.get_secret_value(),
        lambda conn: fetch_profiles(conn, settings.db.schema_name),
    )


def _list(args: argparse.Namespace, files: tuple[Profile, ...]) -> int:
    rows: dict[tuple[str, int], tuple[Profile, str]] = {
        (p.name, p.version): (p, "file") for p in files
    }
    if not args.files:
        for p in _registered():
            origin = "registered" if (p.name, p.version) not in rows else "registered, file"
            rows[(p.name, p.version)] = (p, origin)
    for key in sorted(rows):
        _out(_line(*rows[key]))
    _out(f"{len(rows)} profile versions")
    return 0


def _show(args: argparse.Namespace, files: tuple[Profile, ...]) -> int:
    found = [p for p in files if p.name == args.name and args.version in (None, p.version)]
    try:
        found += [
            p for p in _registered() if p.name == args.name and args.version in (None, p.version)
        ]
    except psycopg.OperationalError as exc:
        _out(f"database not reachable ({exc}); showing the file", sys.stderr)
    if not found:
        _out(f"no profile {args.name}", sys.stderr)
        return 1
    best = max(found, key=lambda p: p.version)
    _out(json.dumps(best.definition(), indent=2, ensure_ascii=False))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit code (1 when refused)."""
    try:
        catalog = load_catalog(args.catalog)
        path = getattr(args, "path", None) or args.profiles
        # validate checks against the catalog here; register leaves it to register_profiles,
        # which refuses the whole set with the same findings
        check = catalog if args.profiles_command != "register" else None
        profiles = load_profiles(path, check)
    except (CatalogError, ProfileError) as exc:
        _out(str(exc), sys.stderr)
        return 1
    command = args.profiles_command
    try:
        if command == "validate":
            _out(f"{len(profiles)} profiles valid against catalog of {len(catalog)} datasets")
            return 0
        if command == "register":
            return _register(args, profiles, catalog)
        if command == "list":
            return _list(args, profiles)
        return _show(args, profiles)
    except ProfileError as exc:
        _out(str(exc), sys.stderr)
        return 1
    except psycopg.Error as exc:
        _out(f"database error: {exc}", sys.stderr)
        return 1
