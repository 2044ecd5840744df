"""``python -m processors normalize``: raw topics -> dataset topics (decode, validate, de-duplicate).

Settings: ``processors.normalize.config.NormalizeSettings`` (``SENSEGATE_`` variables); the service
itself is ``processors.normalize.service``. ``--print-schemas`` / ``--write-schemas DIR`` emit the
JSON Schema of every dataset topic and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

from contracts.families import FAMILY_NAMES
from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.normalize.config import NormalizeSettings
from processors.normalize.schemas import dataset_schema, write_schemas
from processors.normalize.service import serve

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the normalize command."""
    parser.add_argument(
        "--families", default=",".join(FAMILY_NAMES), help="comma-separated families (default: all)"
    )
    parser.add_argument("--group", default=None, help="consumer group id (default from settings)")
    parser.add_argument("--max-batch", type=int, default=None, help="records per poll")
    parser.add_argument(
        "--print-schemas", action="store_true", help="print the dataset JSON Schemas and exit"
    )
    parser.add_argument(
        "--write-schemas", type=Path, default=None, metavar="DIR", help="write schemas and exit"
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    settings = load_settings(
        NormalizeSettings, eager=not (args.print_schemas or args.write_schemas)
    )
    catalog = load_catalog(settings.catalog_dir)
    if args.print_schemas or args.write_schemas:
        if args.write_schemas:
            for path in write_schemas(catalog, args.write_schemas):
                print(path)
        else:
            docs = {e.code: dataset_schema(e, settings.kafka.topic_prefix) for e in catalog}
            print(json.dumps(docs, indent=2, ensure_ascii=False))
        return 0
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = sorted(set(families) - set(FAMILY_NAMES))
    if unknown:
        logger.error("unknown families: %s (known: %s)", unknown, ", ".join(FAMILY_NAMES))
        return 2
    updates: dict[str, object] = {"families": families}
    if args.group:
        updates["group_id"] = args.group
    if args.max_batch:
        updates["max_batch"] = args.max_batch
    asyncio.run(serve(settings, settings.runner.model_copy(update=updates), catalog))
    return 0
