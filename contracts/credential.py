"""Random credentials that are safe to hand out: URL-safe and never starting with a dash."""

from __future__ import annotations

import secrets

__all__ = ["new_credential"]


def new_credential(nbytes: int = 24) -> str:
    """A fresh random URL-safe credential of ``nbytes`` random bytes that does not start with '-'.

    A leading dash makes command-line parsers read the value as an option (``--password -x…`` was
    refused by argparse in a test run), so such draws are discarded; the loss is under 1/64 of
    the space, the first character only.
    """
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value
