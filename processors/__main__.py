"""Entry point: ``python -m processors <command>``; commands are registered explicitly below."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from contracts.secrets import SettingsError
from runtime.cli_entry import parse_command
from runtime.exceptions import ServiceFailed

# name -> (module under processors.cli, one-line help). Each module defines
# ``add_arguments(parser: argparse.ArgumentParser) -> None`` and ``run(args: argparse.Namespace) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "normalize": ("normalize", "decode, validate and normalize raw topics into dataset topics"),
    "sink": ("sink", "store dataset topics in PostgreSQL/TimescaleDB exactly once"),
    "share": ("share", "publish share and open tiers by catalog class"),
    "catalog": ("catalog", "public data catalog: list, show, validate, lists, DCAT export"),
    "devices": ("devices", "device registry: add, list, show, remove, import, health, quarantine"),
    "profiles": ("profiles", "device profiles: validate, register, list, show"),
    "provenance": ("provenance", "verify the tamper-evident log, prove a record, corrections"),
    "objections": ("objections", "objections to shared or opened records (Art. 30)"),
    "grants": ("grants", "access grants for conditionally shared and opened datasets"),
    "dlq": ("dlq", "inspect and replay dead letters"),
    "keys": ("keys", "rotate, list and prune the pseudonym, share and signing keys"),
    "federation": ("federation", "upstream replication to the provincial platform (MirrorMaker 2)"),
    "province": (
        "province",
        "provincial side: admit instances, merge catalogs, witness checkpoints",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="python -m processors", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(f"processors.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"processors.cli.{module_name}":
                raise
            child.set_defaults(_unavailable=name)
            continue
        module.add_arguments(child)
        child.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the exit code."""
    args = parse_command(build_parser(), argv)
    if args is None:
        return 2
    unavailable = getattr(args, "_unavailable", None)
    if unavailable:
        print(f"command {unavailable!r} is not available in this build", file=sys.stderr)
        return 2
    run = getattr(args, "_run")  # noqa: B009 - attribute set through set_defaults
    try:
        result: int = run(args)
    except SettingsError as exc:
        # The message names the settings only; nothing secret is echoed.
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    except ServiceFailed as exc:
        # The cause's traceback was logged when it happened; a non-zero exit gets a restart.
        logging.getLogger("processors").error("%s exits with status 1: %s", args.command, exc)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
