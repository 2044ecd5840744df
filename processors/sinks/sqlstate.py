"""THE one place that decides whether a database error is retried or rejected, by SQLSTATE.

Transient (retry the batch, offsets stay put): class 08 connection exceptions, 40001 serialization
failure, 40P01 deadlock, class 53 insufficient resources (disk full, out of memory, too many
connections), class 57 operator intervention except 57014 query canceled and 57P04 database dropped,
plus connection-pool timeouts and errors without SQLSTATE raised because the connection broke.
Permanent: class 22 data exception and class 23 integrity constraint violation (``data_error``:
the row is at fault, dead-letter it), and everything else (a bug or a schema problem: stop).
Within class 23, 23505 unique violation also tells the writer that an optimistic plain COPY met an
existing row, so it takes the conflict-resolving path instead (``is_duplicate_key``).
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from processors.exceptions import StorageError

__all__ = ["classify", "is_data_error", "is_duplicate_key", "is_transient", "to_storage_error"]

_TRANSIENT_CLASSES = frozenset({"08", "53", "57"})
_TRANSIENT_CODES = frozenset({"40001", "40P01"})
_PERMANENT_IN_TRANSIENT_CLASS = frozenset({"57014", "57P04"})
_DATA_CLASSES = frozenset({"22", "23"})


def is_transient(sqlstate: str | None) -> bool:
    """True when an error with this SQLSTATE may succeed on retry."""
    if not sqlstate:
        return False
    if sqlstate in _PERMANENT_IN_TRANSIENT_CLASS:
        return False
    return sqlstate in _TRANSIENT_CODES or sqlstate[:2] in _TRANSIENT_CLASSES


def is_data_error(sqlstate: str | None) -> bool:
    """True when the SQLSTATE blames the data of a row (classes 22 and 23)."""
    return bool(sqlstate) and str(sqlstate)[:2] in _DATA_CLASSES


def is_duplicate_key(sqlstate: str | None) -> bool:
    """True for 23505 unique violation: the row (or its key) is already stored."""
    return sqlstate == "23505"


def classify(exc: BaseException) -> tuple[bool, str | None]:
    """Return ``(retriable, sqlstate)`` for a psycopg or pool error."""
    if isinstance(exc, PoolTimeout):
        return True, None
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:
            # No SQLSTATE: the client lost the server (connection closed, network error).
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError), None
        return is_transient(state), state
    if isinstance(exc, OSError | TimeoutError):
        return True, None
    return False, None


def to_storage_error(exc: BaseException, context: str) -> StorageError:
    """Wrap ``exc`` in a StorageError carrying the classification (chain it with ``from``)."""
    retriable, state = classify(exc)
    msg = f"{context}: {type(exc).__name__} [{state or '-'}]: {exc}"
    return StorageError(msg, retriable=retriable, sqlstate=state)
