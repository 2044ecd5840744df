"""Profile errors.

ProcessorError
 ├── ConfigurationError
 │    └── ProfileError              a profile file is invalid or breaks a catalog rule (fatal)
 │         └── ProfileRegistrationError  the database refused a registration
 └── MappingRefused                 one message does not fit its profile (per record)
"""

from __future__ import annotations

from contracts.dead_letter import ReasonCode
from processors.exceptions import ConfigurationError, ProcessorError

__all__ = ["MappingRefused", "ProfileError", "ProfileRegistrationError"]


class ProfileError(ConfigurationError):
    """A profile cannot be used; ``problems`` lists every finding, one line each."""

    retriable = False

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (message,)

    def __str__(self) -> str:
        if self.problems == (self.message,):
            return self.message
        return "\n  - ".join((self.message, *self.problems))


class ProfileRegistrationError(ProfileError):
    """Registering profiles in PostgreSQL failed."""


class MappingRefused(ProcessorError):
    """One message's fields do not fit its profile; per record, never retriable."""

    retriable = False

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
