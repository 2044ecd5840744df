"""``python -m processors sink``: store the dataset topics in PostgreSQL/TimescaleDB exactly once.

Settings: ``processors.sinks.config.SinkSettings`` (e.g. ``SENSEGATE_DB__DSN``,
``SENSEGATE_SINK__BATCH_MAX_RECORDS``, ``SENSEGATE_PROVENANCE__SIGNING_KEY``); the service itself
is ``processors.sinks.service``. ``--migrate-only`` applies the migrations and exits;
``--print-ddl`` prints the generated dataset DDL.
"""

from __future__ import annotations

import argparse
import asyncio

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.sinks.config import SinkSettings
from processors.sinks.service import serve
from processors.storage.ddl import dataset_ddl, ddl_script
from processors.storage.migrate import migrate

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the sink command."""
    parser.add_argument("--migrate-only", action="store_true", help="apply migrations and exit")
    parser.add_argument(
        "--print-ddl",
        choices=("plain", "timescale"),
        help="print the generated per-dataset DDL for one storage path and exit",
    )


def run(args: argparse.Namespace) -> int:
    """Run the sink (or one of its maintenance actions)."""
    serving = not (args.print_ddl or args.migrate_only)
    # The running sink signs checkpoints: it must not start without its key (nor any secret).
    settings = load_settings(SinkSettings, require=("provenance.signing_key",), eager=serving)
    if args.print_ddl:
        catalog = load_catalog(settings.catalog_dir)
        for entry in catalog.entries.values():
            stmts = dataset_ddl(
                entry, settings.db.schema_name, timescale=args.print_ddl == "timescale"
            )
            print(f"-- {entry.code} v{entry.version}\n{ddl_script(stmts)}")
        return 0
    if args.migrate_only:
        report = migrate(
            settings.db.dsn.get_secret_value(), settings.db.schema_name,
            load_catalog(settings.catalog_dir), mode=settings.sink.storage_mode,
        )  # fmt: skip
        print(f"schema {report.schema}: timescale={report.timescale} applied={report.applied}")
        return 0
    asyncio.run(serve(settings))
    return 0
