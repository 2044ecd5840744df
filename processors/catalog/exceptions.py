"""Catalog errors.

ProcessorError
 └── ConfigurationError
      └── CatalogError          an entry or the whole catalog breaks a governance rule (fatal at load)
           ├── RegistrationError  the database refused or conflicts with a registration
           └── ChangeError        a catalog change breaks change control (C14): unsigned, unreviewed …
"""

from __future__ import annotations

from processors.exceptions import ConfigurationError

__all__ = ["CatalogError", "ChangeError", "RegistrationError"]


class CatalogError(ConfigurationError):
    """The catalog cannot be used: a file is unreadable or an entry breaks a rule.

    ``problems`` lists every finding (one line each, prefixed with the file or entry), so an
    operator can fix them all in one pass instead of one per run.
    """

    retriable = False

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (message,)

    def __str__(self) -> str:
        if self.problems == (self.message,):
            return self.message
        return "\n  - ".join((self.message, *self.problems))


class RegistrationError(CatalogError):
    """Registering the catalog in PostgreSQL failed."""


class ChangeError(CatalogError):
    """A catalog change is refused by change control (C14); fix the input, not retriable."""
