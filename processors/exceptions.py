"""Error root of the processors package.

ProcessorError(SensegateError)
 ├── codecs.base.CodecError        per-record decoding failure, carries a ReasonCode
 ├── ConfigurationError            bad settings or catalog; fatal at start-up
 └── StorageError                  retriable flag set from the SQLSTATE class (sinks.sqlstate)
"""

from __future__ import annotations

from contracts.errors import SensegateError

__all__ = ["ConfigurationError", "ProcessorError", "StorageError"]


class ProcessorError(SensegateError):
    """Base of every processors error."""


class ConfigurationError(ProcessorError):
    """Invalid configuration, catalog or registry; raised at start-up, never per message."""


class StorageError(ProcessorError):
    """A database operation failed; ``retriable`` says whether retrying the batch can succeed."""

    def __init__(self, message: str, *, retriable: bool, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.sqlstate = sqlstate
