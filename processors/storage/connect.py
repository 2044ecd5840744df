"""The one synchronous entry to the async stores (catalog, registry), for command-line tools."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

__all__ = ["run_with_connection"]

T = TypeVar("T")


def run_with_connection(
    dsn: str, action: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
) -> T:
    """Open one connection, run ``action`` on it in a new event loop and close it.

    Like ``with psycopg.connect(dsn)``: a transaction still open when ``action`` returns is
    committed, and rolled back when it raises. Must not be called from a running event loop.
    """

    async def main() -> T:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return await action(conn)

    return asyncio.run(main())
