"""Secrets in settings: no defaults, a refusal naming the missing setting, errors that never echo values.

A secret setting defaults to ``Unset(<env name>)``: a ``SecretStr`` with no value whose
``get_secret_value`` raises ``MissingSettingError`` naming the environment variable, so code that
reaches for an unconfigured secret fails with the setting's name instead of trying an empty or
well-known value. ``load_settings`` builds a service's settings, turns validation errors into
messages without the offending input (pydantic's default message would print it) and checks up
front that every secret the service uses is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from contracts.errors import SensegateError

__all__ = [
    "ENV_PREFIX",
    "MissingSettingError",
    "SettingsError",
    "Unset",
    "describe_validation",
    "env_name",
    "load_settings",
    "missing_settings",
]

ENV_PREFIX = "SENSEGATE_"
T = TypeVar("T", bound=BaseModel)


class SettingsError(SensegateError):
    """Settings cannot be used; the message names settings, never their values. Not retriable."""

    retriable = False


class MissingSettingError(SettingsError):
    """A secret (or other required setting) is not configured."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        listed = ", ".join(self.names)
        super().__init__(f"required setting not set: {listed}")


def env_name(*path: str) -> str:
    """Environment variable of a nested setting, e.g. ``("db", "dsn")`` -> ``SENSEGATE_DB__DSN``."""
    return ENV_PREFIX + "__".join(p.upper() for p in path)


class Unset(SecretStr):
    """A secret with no configured value; using it raises ``MissingSettingError``."""

    def __init__(self, name: str) -> None:
        super().__init__("")
        self.setting = name

    def get_secret_value(self) -> str:
        """Refuse: the secret was never configured."""
        raise MissingSettingError([self.setting])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unset) and other.setting == self.setting

    def __hash__(self) -> int:
        return hash(("unset", self.setting))

    def __len__(self) -> int:
        return 0


def _walk(model: BaseModel, path: tuple[str, ...]) -> list[str]:
    missing: list[str] = []
    hook = getattr(model, "missing_settings", None)
    if callable(hook):
        missing += [env_name(*path, name) for name in hook()]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Unset):
            missing.append(env_name(*path, name))
        elif isinstance(value, BaseModel):
            missing += _walk(value, (*path, name))
    return missing


def missing_settings(model: BaseModel, require: Iterable[str] = ()) -> list[str]:
    """Environment names of unset secrets in ``model``, plus ``require`` paths that are None/empty.

    ``require`` lists dotted paths (``"provenance.signing_key"``) of optional settings this
    particular service cannot do without. Nested models may name their own conditional
    requirements through a ``missing_settings()`` method returning field names.
    """
    found = _walk(model, ())
    for dotted in require:
        value: Any = model
        parts = dotted.split(".")
        for part in parts:
            value = getattr(value, part, None)
        if value is None or isinstance(value, Unset) or value in ({}, "", ()):
            name = env_name(*parts)
            if name not in found:
                found.append(name)
    return found


def describe_validation(error: ValidationError) -> str:
    """Validation problems as setting names and messages, without the rejected input."""
    lines = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        loc = tuple(str(p) for p in item["loc"] if not isinstance(p, int))
        where = env_name(*loc) if loc else error.title
        lines.append(f"{where}: {item['msg']}")
    return "invalid settings: " + "; ".join(lines)


def load_settings(cls: type[T], *, require: Iterable[str] = (), eager: bool = True) -> T:
    """Instantiate ``cls`` from the environment; raise ``SettingsError`` naming what is wrong.

    Services load eagerly (any unset secret refuses the start); a multi-purpose CLI passes
    ``eager=False`` and fails, naming the setting, only when an action reaches the secret.
    """
    try:
        settings = cls()
    except ValidationError as exc:
        raise SettingsError(describe_validation(exc)) from None
    missing = missing_settings(settings, require) if eager else []
    if missing:
        raise MissingSettingError(missing)
    return settings
