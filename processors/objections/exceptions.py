"""Errors of the objection workflow; none is retriable (the request itself is wrong)."""

from __future__ import annotations

from processors.exceptions import ProcessorError

__all__ = ["CaseNotFound", "InvalidTransition", "NotAllowed", "ObjectionError", "RateLimited"]


class ObjectionError(ProcessorError):
    """Root of the objection errors: the request cannot be carried out as asked."""

    status = 400


class CaseNotFound(ObjectionError):
    """No case (or no record) with this id."""

    status = 404


class NotAllowed(ObjectionError):
    """The principal may not do this (e.g. a unit that is not the provider deciding)."""

    status = 403


class InvalidTransition(ObjectionError):
    """The case is not in a state that allows this step."""

    status = 409


class RateLimited(ObjectionError):
    """Too many public submissions from one client; retry later."""

    status = 429
