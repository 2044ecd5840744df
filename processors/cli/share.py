"""``python -m processors share``: publish share and open tiers by catalog class (see processors.share.service)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.share.config import ShareSettings
from processors.share.rules import plan_targets
from processors.share.service import serve

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the share command (connection settings come from SENSEGATE_* variables)."""
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog folder (default catalog/)"
    )
    parser.add_argument("--group-id", default=None, help="consumer group (default sensegate-share)")
    parser.add_argument(
        "--until-idle",
        type=float,
        default=None,
        metavar="S",
        help="bounded run: drain windows and exit after S seconds without input",
    )
    parser.add_argument("--plan", action="store_true", help="print the output streams and exit")


def run(args: argparse.Namespace) -> int:
    """Run the sharing processor until SIGINT/SIGTERM (or idle, with --until-idle)."""
    settings = load_settings(ShareSettings, eager=not args.plan)
    if args.group_id:
        settings = settings.model_copy(update={"share_group_id": args.group_id})
    catalog = load_catalog(args.catalog)
    if args.plan:
        targets, refused = plan_targets(catalog, settings.kafka.topic_prefix)
        for t in targets:
            print(f"{t.tier:<5} {t.topic:<40} from data.{t.source} ({t.mode})")
        for code, reason in refused.items():
            print(f"refused open {code}: {reason}")
        return 0
    asyncio.run(serve(settings, catalog, idle_exit_s=args.until_idle))
    return 0
