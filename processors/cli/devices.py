"""``python -m processors devices ...``: device registry, profile bindings, broker credentials, health."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import psycopg
from psycopg import AsyncConnection
from pydantic import ValidationError

from contracts.families import FAMILY_NAMES
from contracts.secrets import load_settings
from processors.catalog import Catalog, CatalogError, load_catalog
from processors.cli.device_credentials import (
    add_issue_options,
    add_revoke_parsers,
    issue_for,
    revoke_or_rotate,
)
from processors.cli.health import add_health_arguments, run_health
from processors.cli.settings import AdminSettings
from processors.profiles import Profile
from processors.profiles.store import fetch_profiles
from processors.registry import store as registry_store
from processors.registry.credentials import identity_for
from processors.registry.models import CSV_HEADER, Device
from processors.registry.quarantine import approve_device, list_quarantined
from processors.registry.validation import device_problems, profile_binding_problems
from processors.storage.connect import run_with_connection

__all__ = ["add_arguments", "run"]

T = TypeVar("T")


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", choices=FAMILY_NAMES)
    parser.add_argument("device_id")
    parser.add_argument(
        "--provider", help="provider unit (default: the datasets' catalog provider)"
    )
    parser.add_argument(
        "--datasets", help="';'-separated dataset codes (default: the family's datasets)"
    )
    parser.add_argument(
        "--profile",
        help="device profile NAME or NAME@VERSION (default version: the highest registered)",
    )
    parser.add_argument("--codec")
    parser.add_argument("--v2x-edition")
    parser.add_argument("--v2x-framing", action="store_true")
    parser.add_argument("--industrial-id")
    parser.add_argument("--lat", type=float)
    parser.add_argument("--lon", type=float)
    add_issue_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``devices``."""
    parser.add_argument("--catalog", type=Path, default=None, help="catalog directory")
    parser.add_argument(
        "--registry-file", type=Path, default=registry_store.DEFAULT_DEVICES_FILE, help="registry as code"
    )
    sub = parser.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    _device_options(sub.add_parser("add", help="register (or replace) one device"))
    listing = sub.add_parser("list", help="registered devices (database, then file-only)")
    listing.add_argument("--family", choices=FAMILY_NAMES)
    listing.add_argument("--csv", action="store_true", help="print in the import CSV format")
    for name, text in (("show", "one device as JSON"), ("remove", "delete one device")):
        p = sub.add_parser(name, help=text)
        p.add_argument("family", choices=FAMILY_NAMES)
        p.add_argument("device_id")
        if name == "remove":
            p.add_argument(
                "--no-broker", action="store_true", help="do not revoke its broker credential"
            )
    imp = sub.add_parser("import", help="bulk import a CSV (all rows or none)")
    imp.add_argument("csv_file", type=Path)
    imp.add_argument("--dry-run", action="store_true")
    add_issue_options(imp)
    add_revoke_parsers(sub)
    sub.add_parser("sync", help="write the registry file's devices to the database")
    add_health_arguments(sub.add_parser("health", help="per device: last seen, completeness, gaps"))
    sub.add_parser("validate", help="check the registry file against the catalog")
    quarantine = sub.add_parser("quarantine", help="messages of unregistered devices")
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    qlist = qsub.add_parser("list", help="devices with quarantined messages")
    qlist.add_argument("--json", action="store_true")
    approve = qsub.add_parser("approve", help="register a device and replay its messages")
    _device_options(approve)
    approve.add_argument("--settle-s", type=float, default=1.0, help="wait before replaying")


def _own_identity(family: str, device_id: str) -> bool:
    # An RSU, or a whole edge node, is its own broker identity; a LoRaWAN device shares its
    # application's, a Sparkplug device its node's: removing one device leaves those to revoke.
    try:
        return identity_for(family, device_id, None).name == device_id
    except ValueError:  # published through an application identity (no name given here)
        return False


def _out(text: str, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _device_from_args(
    args: argparse.Namespace, catalog: Catalog, profile: Profile | None = None
) -> Device:
    if args.datasets:
        datasets = tuple(d.strip() for d in args.datasets.split(";") if d.strip())
    elif profile is not None:
        datasets = profile.datasets
    else:
        datasets = tuple(e.code for e in catalog.for_family(args.family))
    provider = args.provider
    if provider is None:
        providers = {e.provider for c in datasets if (e := catalog.get(c)) is not None}
        provider = providers.pop() if len(providers) == 1 else ""
    return Device(
        family=args.family,
        device_id=args.device_id,
        provider=provider,
        datasets=datasets,
        codec=args.codec,
        v2x_edition=args.v2x_edition,
        v2x_framing=args.v2x_framing,
        industrial_id=args.industrial_id,
        lat=args.lat,
        lon=args.lon,
        profile=profile.name if profile else None,
        profile_version=profile.version if profile else None,
    )


def _registered_profiles(settings: AdminSettings) -> list[Profile]:
    return _db(settings, lambda conn: fetch_profiles(conn, settings.db.schema_name))


def _resolve_profile(ref: str, registered: Sequence[Profile]) -> Profile | str:
    """The registered profile ``NAME`` or ``NAME@VERSION``, or why there is none."""
    name, _, version = ref.partition("@")
    known = [p for p in registered if p.name == name]
    if version:
        known = [p for p in known if str(p.version) == version]
    if not known:
        return (
            f"profile {ref} is not registered; register it first with "
            "`python -m processors profiles register` (see `profiles list`)"
        )
    return max(known, key=lambda p: p.version)


def _bind_profiles(
    devices: Sequence[Device], registered: Sequence[Profile]
) -> tuple[list[Device], list[str]]:
    """Bind each device's profile to a registered version (the highest when none is given)."""
    bound: list[Device] = []
    problems: list[str] = []
    for d in devices:
        if d.profile is None:
            bound.append(d)
            continue
        ref = d.profile if d.profile_version is None else f"{d.profile}@{d.profile_version}"
        found = _resolve_profile(ref, registered)
        if isinstance(found, str):
            problems.append(f"{d.family}/{d.device_id}: {found}")
            continue
        pinned = d.model_copy(update={"profile_version": found.version})
        problems += profile_binding_problems(pinned, found)
        bound.append(pinned)
    return bound, problems


def _device_and_problems(
    args: argparse.Namespace, settings: AdminSettings, catalog: Catalog
) -> tuple[Device, list[str]]:
    """The device the options describe (bound to its registered profile) and what it breaks."""
    profile = None
    if args.profile:
        resolved = _resolve_profile(args.profile, _registered_profiles(settings))
        if isinstance(resolved, str):
            return _device_from_args(args, catalog), [resolved]
        profile = resolved
    device = _device_from_args(args, catalog, profile)
    problems = device_problems(device, catalog)
    if profile is not None:
        problems += profile_binding_problems(device, profile)
    return device, problems


def _checked(devices: Sequence[Device], catalog: Catalog) -> list[str]:
    return [p for d in devices for p in device_problems(d, catalog)]


def _print_csv(devices: Sequence[Device]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()
    for d in devices:
        writer.writerow(d.to_row())


def _broker_db(settings: AdminSettings) -> psycopg.Connection[Any]:
    # The credential digests (processors/registry/credentials.py) use a plain connection.
    return psycopg.connect(settings.db.dsn.get_secret_value())


def _db(settings: AdminSettings, action: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    return run_with_connection(settings.db.dsn.get_secret_value(), action)


def _list(args: argparse.Namespace, settings: AdminSettings) -> int:
    file_devices, _ = registry_store.load_devices_yaml(args.registry_file)
    db_devices = _db(settings, lambda conn: registry_store.fetch_devices(conn, settings.db.schema_name))
    merged = {d.key: ("file", d) for d in file_devices}
    merged.update((d.key, ("db", d)) for d in db_devices)
    rows = [(o, d) for k, (o, d) in sorted(merged.items()) if args.family in (None, d.family)]
    if args.csv:
        _print_csv([d for _, d in rows])
        return 0
    for origin, d in rows:
        _out(f"{d.family:5} {d.device_id:40} {d.provider:18} {';'.join(d.datasets)}  [{origin}]")
    _out(f"{len(rows)} devices")
    return 0


def _import(args: argparse.Namespace, settings: AdminSettings, catalog: Catalog) -> int:
    devices, problems = registry_store.parse_devices_csv(args.csv_file.read_text(encoding="utf-8"))
    problems += _checked(devices, catalog)
    if any(d.profile for d in devices):
        devices, bind_problems = _bind_profiles(devices, _registered_profiles(settings))
        problems += bind_problems
    if problems:
        for p in problems:
            _out(p, sys.stderr)
        _out(f"import refused: {len(problems)} problem(s), nothing written", sys.stderr)
        return 1
    if args.dry_run:
        _out(f"{len(devices)} devices valid (dry run, nothing written)")
        return 0
    schema = settings.db.schema_name
    n = _db(settings, lambda conn: registry_store.upsert_devices(conn, devices, origin="csv", schema=schema))
    _out(f"imported {n} devices")
    with _broker_db(settings) as conn:
        return issue_for(conn, settings.broker, [d.key for d in devices], args, schema)


def _quarantine(args: argparse.Namespace, settings: AdminSettings, catalog: Catalog) -> int:
    if args.quarantine_command == "list":
        found = asyncio.run(list_quarantined(settings.kafka))
        if args.json:
            _out(json.dumps([q.as_dict() for q in found], indent=2))
        else:
            for q in found:
                _out(
                    f"{q.family:5} {q.device_id:40} {q.messages:6} messages ({q.distinct} distinct)"
                )
            _out(f"{len(found)} unregistered devices")
        return 0
    device, problems = _device_and_problems(args, settings, catalog)
    if problems:
        for p in problems:
            _out(p, sys.stderr)
        return 1
    result = asyncio.run(
        approve_device(settings.kafka, settings.db, device, settle_s=args.settle_s)
    )
    _out(
        f"approved {device.family}/{device.device_id}: replayed {result.replayed}, "
        f"already replayed {result.already_replayed}, not replayable {result.not_replayable}"
    )
    with _broker_db(settings) as conn:
        return issue_for(conn, settings.broker, [device.key], args, settings.db.schema_name)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit code (1 when refused)."""
    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as exc:
        _out(str(exc), sys.stderr)
        return 1
    settings = load_settings(AdminSettings, eager=False)
    schema = settings.db.schema_name
    command = args.devices_command
    try:
        if command == "add":
            device, problems = _device_and_problems(args, settings, catalog)
            if problems:
                for p in problems:
                    _out(p, sys.stderr)
                return 1
            _db(settings, lambda conn: registry_store.upsert_devices(conn, [device], schema=schema))
            bound = (
                f" with profile {device.profile}@{device.profile_version}" if args.profile else ""
            )
            _out(f"registered {device.family}/{device.device_id}{bound}")
            with _broker_db(settings) as conn:
                return issue_for(conn, settings.broker, [device.key], args, schema)
        if command == "list":
            return _list(args, settings)
        if command == "health":
            return run_health(args, settings.db, catalog)
        if command == "remove":
            family, device_id = args.family, args.device_id
            gone = _db(settings, lambda conn: registry_store.delete_device(conn, family, device_id, schema))
            _out(f"removed {args.family}/{args.device_id}" if gone else "no such device")
            if gone and not args.no_broker and _own_identity(family, device_id):
                with _broker_db(settings) as conn:
                    return revoke_or_rotate(conn, settings.broker, args, schema)
            return 0 if gone else 1
        if command == "show":
            stored = _db(settings, lambda conn: registry_store.fetch_devices(conn, schema))
            found = [d for d in stored if d.key == (args.family, args.device_id)]
            if not found:
                file_devices, _ = registry_store.load_devices_yaml(args.registry_file)
                found = [d for d in file_devices if d.key == (args.family, args.device_id)]
            if not found:
                _out("no such device", sys.stderr)
                return 1
            _out(found[0].model_dump_json(indent=2))
            return 0
        if command == "import":
            return _import(args, settings, catalog)
        if command in ("revoke", "rotate-credentials"):
            with _broker_db(settings) as conn:
                return revoke_or_rotate(conn, settings.broker, args, schema)
        if command in ("sync", "validate"):
            devices, problems = registry_store.load_devices_yaml(args.registry_file)
            problems += _checked(devices, catalog)
            if problems:
                for p in problems:
                    _out(p, sys.stderr)
                return 1
            if command == "validate":
                _out(f"registry file valid: {len(devices)} devices")
                return 0
            n = _db(
                settings, lambda conn: registry_store.upsert_devices(conn, devices, origin="yaml", schema=schema)
            )
            _out(f"synced {n} devices from {args.registry_file}")
            return 0
        return _quarantine(args, settings, catalog)
    except ValidationError as exc:
        _out(f"invalid device: {exc}", sys.stderr)
        return 1
    except psycopg.Error as exc:
        _out(f"database error: {exc}", sys.stderr)
        return 1
