"""Kafka topic names of the pipeline, derived from one configurable prefix."""

from __future__ import annotations

import re

__all__ = [
    "data_topic",
    "dlq_topic",
    "open_topic",
    "quarantine_topic",
    "raw_topic",
    "share_topic",
]

_NAME = re.compile(r"^[a-z0-9_]+$")


def _checked(name: str) -> str:
    if not _NAME.match(name):
        msg = f"invalid topic component {name!r}: use lower-case letters, digits and underscores"
        raise ValueError(msg)
    return name


def raw_topic(prefix: str, family: str) -> str:
    """Raw envelopes of one device family, e.g. ``sensegate.raw.v2x``."""
    return f"{prefix}raw.{_checked(family)}"


def data_topic(prefix: str, dataset: str) -> str:
    """Normalized records of one catalog dataset, e.g. ``sensegate.data.agri_soil``."""
    return f"{prefix}data.{_checked(dataset)}"


def share_topic(prefix: str, dataset: str) -> str:
    """Share tier of one dataset for authorized public bodies."""
    return f"{prefix}share.{_checked(dataset)}"


def open_topic(prefix: str, dataset: str) -> str:
    """Open tier (de-identified) of one dataset for the public."""
    return f"{prefix}open.{_checked(dataset)}"


def dlq_topic(prefix: str) -> str:
    """The single dead-letter topic every stage writes to."""
    return f"{prefix}dlq"


def quarantine_topic(prefix: str) -> str:
    """Messages from unregistered devices, kept for an operator to approve (same format as the DLQ)."""
    return f"{prefix}quarantine"
