"""``python -m processors catalog list|show|validate|lists|export-dcat|important-register|register``.

The change-control actions (``propose``, ``review``, ``apply``, ``log``, ``diff``, keys) live in
``processors.cli.catalog_changes``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import psycopg

from contracts.secrets import load_settings
from processors.catalog import (
    LIST_KINDS,
    Catalog,
    CatalogError,
    compute_list,
    load_catalog,
    register_catalog,
)
from processors.catalog.dcat import DEFAULT_BASE_IRI, export_dcat
from processors.catalog.important import register_csv, register_json
from processors.cli.catalog_changes import COMMANDS, add_change_arguments, run_change
from processors.cli.settings import AdminSettings
from processors.storage.connect import run_with_connection

__all__ = ["add_arguments", "run", "write_back_version"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``catalog``."""
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog directory (default <repo>/catalog)"
    )
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="one line per entry: code, version, provider, grade, classes")
    show = sub.add_parser("show", help="the full definition of one entry (JSON)")
    show.add_argument("code")
    validate = sub.add_parser("validate", help="check the catalog (or one file); exit 1 if invalid")
    validate.add_argument("path", nargs="?", type=Path, default=None)
    lists = sub.add_parser("lists", help="the computed resource, share and open lists")
    lists.add_argument("kind", nargs="?", choices=LIST_KINDS, default=None)
    lists.add_argument("--json", action="store_true", help="JSON instead of a table")
    export = sub.add_parser("export-dcat", help="DCAT-AP 3 JSON-LD export")
    export.add_argument("-o", "--output", type=Path, default=None, help="file (default stdout)")
    export.add_argument("--base-iri", default=DEFAULT_BASE_IRI)
    important = sub.add_parser(
        "important-register", help="F34: the important-data register (CSV or JSON)"
    )
    important.add_argument("--format", choices=("csv", "json"), default="csv")
    important.add_argument("-o", "--output", type=Path, default=None, help="file (default stdout)")
    register = sub.add_parser("register", help="register entries in PostgreSQL with versions")
    register.add_argument(
        "--no-write-back",
        action="store_true",
        help="do not update 'version:' in the YAML file when a new version is assigned",
    )
    add_change_arguments(sub)


def _out(text: str, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _load(path: Path | None) -> Catalog | None:
    try:
        return load_catalog(path)
    except CatalogError as exc:
        _out(str(exc), sys.stderr)
        return None


def write_back_version(catalog_dir: Path, code: str, version: int) -> bool:
    """Set ``version: N`` in ``<catalog_dir>/<code>.yaml``, keeping comments; returns success."""
    file = catalog_dir / f"{code}.yaml" if catalog_dir.is_dir() else catalog_dir
    text = file.read_text(encoding="utf-8")
    new, count = re.subn(r"(?m)^version:\s*\d+\s*$", f"version: {version}", text, count=1)
    if count != 1:
        return False
    file.write_text(new, encoding="utf-8")
    return True


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _list(catalog: Catalog) -> int:
    rows = [["code", "ver", "provider", "category", "grade", "share", "open", "table"]]
    for e in catalog:
        rows.append(
            [
                e.code,
                str(e.version),
                e.provider,
                "+".join(e.data_category),
                e.grade,
                e.share_class,
                e.open_class,
                e.storage_table,
            ]
        )
    _out(_table(rows))
    return 0


def _lists(catalog: Catalog, kind: str | None, as_json: bool) -> int:
    kinds = [k for k in LIST_KINDS if kind in (None, k)]
    result: dict[str, list[dict[str, Any]]] = {
        k: [r.as_dict() for r in compute_list(catalog, k)] for k in kinds
    }
    if as_json:
        _out(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for k, rows in result.items():
        _out(f"# {k} list ({len(rows)})")
        table = [["code", "ver", "provider", "grade", "class", "purposes"]]
        table += [
            [
                str(r["code"]),
                str(r["version"]),
                str(r["provider"]),
                str(r["grade"]),
                str(r["class"]),
                ",".join(r["purposes"]) or "-",
            ]
            for r in rows
        ]
        _out(_table(table))
    return 0


def _register(catalog: Catalog, settings: AdminSettings, write_back: bool) -> int:
    dsn, schema = settings.db.dsn.get_secret_value(), settings.db.schema_name
    try:
        results = run_with_connection(dsn, lambda conn: register_catalog(conn, catalog, schema))
    except (CatalogError, psycopg.Error) as exc:
        _out(f"registration failed: {exc}", sys.stderr)
        return 1
    for r in results:
        line = f"{r.code}: version {r.version} {r.action}"
        if r.version != r.declared_version:
            line += f" (file declares {r.declared_version})"
            if write_back and catalog.source is not None:
                done = write_back_version(catalog.source, r.code, r.version)
                line += "; file updated" if done else "; could not update the file"
        _out(line)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit code (1 for an invalid catalog)."""
    command = args.catalog_command
    if command == "validate":
        catalog = _load(args.path or args.catalog)
        if catalog is None:
            return 1
        _out(f"catalog valid: {len(catalog)} entries ({', '.join(catalog.entries)})")
        return 0
    catalog = _load(args.catalog)
    if catalog is None:
        return 1
    if command in COMMANDS:
        code = run_change(args, catalog)
        if command == "apply" and code == 0 and catalog.source is not None:
            _register(catalog, AdminSettings(), write_back=True)  # brings 'version:' in line
        return code
    if command == "list":
        return _list(catalog)
    if command == "show":
        entry = catalog.get(args.code)
        if entry is None:
            _out(f"no catalog entry {args.code!r}", sys.stderr)
            return 1
        doc = entry.definition() | {"content_sha256": entry.content_sha256()}
        _out(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    if command == "lists":
        return _lists(catalog, args.kind, args.json)
    if command == "important-register":
        text = register_json(catalog) if args.format == "json" else register_csv(catalog)
        if args.output is None:
            _out(text.rstrip("\n"))
        else:
            args.output.write_text(text, encoding="utf-8")
        return 0
    settings = load_settings(AdminSettings, eager=False)
    if command == "export-dcat":
        doc = export_dcat(
            catalog,
            base_iri=args.base_iri,
            kafka_bootstrap=settings.kafka.bootstrap_servers,
            topic_prefix=settings.kafka.topic_prefix,
        )
        text = json.dumps(doc, ensure_ascii=False, indent=2)
        if args.output is None:
            _out(text)
        else:
            args.output.write_text(text + "\n", encoding="utf-8")
        return 0
    return _register(catalog, settings, not args.no_write_back)
