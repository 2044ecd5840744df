"""Start of every command-line entry point: parse the arguments and set up logging."""

from __future__ import annotations

import argparse
import logging

__all__ = ["LOG_FORMAT", "parse_command"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def parse_command(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace | None:
    """Parsed arguments with logging configured, or None (help printed) when no command was given."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    if args.command is None:
        parser.print_help()
        return None
    return args
