"""Profile errors.

ProcessorError
 ├── ConfigurationError
 │    └── catalog.CatalogError
 │         └── ProfileError         a profile file is invalid or breaks a catalog rule (fatal)
 │              └── ProfileRegistrationError  the database refused a registration
 └── MappingRefused                 one message does not fit its profile (also a Rejected)
"""

from __future__ import annotations

from contracts.errors import Rejected
from processors.catalog.exceptions import CatalogError
from processors.exceptions import ProcessorError

__all__ = ["MappingRefused", "ProfileError", "ProfileRegistrationError"]


class ProfileError(CatalogError):
    """A profile cannot be used; ``problems`` lists every finding, one line each.

    Profiles are governance as code beside the catalog, so they share its error (and its
    one-pass listing of every problem).
    """


class ProfileRegistrationError(ProfileError):
    """Registering profiles in PostgreSQL failed."""


class MappingRefused(ProcessorError, Rejected):
    """One message's fields do not fit its profile; per record, never retriable (a dead letter)."""
