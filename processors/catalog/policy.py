"""Class and grade policy of docs/governance.md §2: F19 defaults by data kind, C9 live feeds, C11 item overrides.

Pure functions over plain values so they serve both the model validators (which see the raw YAML
document before defaults are filled in) and the cross-entry rules of ``processors.catalog.derived``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CLASS_ORDER",
    "GRADE_ORDER",
    "LIVE_FEED_MAX_S",
    "KindDefaults",
    "duration_seconds",
    "is_live_feed",
    "kind_defaults",
    "looser",
    "max_grade",
    "stricter",
]

# Strictness: a larger number restricts more (就高从严 compares along these orders).
CLASS_ORDER = {"unconditional": 0, "conditional": 1, "none": 2}
GRADE_ORDER = {"general": 0, "important": 1, "core": 2}

# A feed published at least hourly is "live" for C9; the 2019 measures name time-sensitive data
# without a number, so the hour is this project's line (docs/catalog.md says so).
LIVE_FEED_MAX_S = 3600

_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_S = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def duration_seconds(value: str) -> float | None:
    """Seconds of an ISO 8601 duration (years 365 d, months 30 d); None if it is not one."""
    match = _DURATION.match(value)
    if match is None or value in ("P", "PT"):
        return None
    return sum(float(g) * u for g, u in zip(match.groups(), _UNIT_S, strict=True) if g)


def is_live_feed(update_cycle: str) -> bool:
    """C9: ``realtime`` or an update cycle of at most ``LIVE_FEED_MAX_S`` seconds."""
    if update_cycle == "realtime":
        return True
    seconds = duration_seconds(update_cycle)
    return seconds is not None and seconds <= LIVE_FEED_MAX_S


def stricter(a: str, b: str) -> bool:
    """Whether access class ``a`` restricts more than ``b``."""
    return CLASS_ORDER[a] > CLASS_ORDER[b]


def looser(a: str, b: str) -> bool:
    """Whether access class ``a`` restricts less than ``b``."""
    return CLASS_ORDER[a] < CLASS_ORDER[b]


def max_grade(grades: Iterable[str]) -> str:
    """The highest grade of ``grades`` (``general`` for none)."""
    return max(grades, key=GRADE_ORDER.__getitem__, default="general")


@dataclass(frozen=True, slots=True)
class KindDefaults:
    """Default share and open class of a data kind, with the row of the §3 table that gave them."""

    share: str
    open: str
    kind: str


def kind_defaults(
    *,
    grade: str,
    categories: Iterable[str],
    sensitive_pi: bool,
    commercial_secret: bool,
    update_cycle: str,
) -> KindDefaults:
    """F19: share/open defaults from the data kind (docs/governance.md §2 table, Art. 31 'sharing is the rule').

    Restricting kinds win over opening ones (grade high when in doubt); general public data is
    shared unconditionally and opened unconditionally, or conditionally when it is a live feed (C9).
    """
    cats = set(categories)
    if grade == "core":
        return KindDefaults("conditional", "none", "core data")
    if sensitive_pi:
        return KindDefaults("conditional", "none", "sensitive personal information")
    if "personal" in cats:
        return KindDefaults("conditional", "none", "personal data")
    if grade == "important":
        return KindDefaults("conditional", "none", "important data")
    if commercial_secret or "enterprise" in cats:
        return KindDefaults("conditional", "none", "enterprise data")
    if is_live_feed(update_cycle):
        return KindDefaults("unconditional", "conditional", "general public data, live feed (C9)")
    return KindDefaults("unconditional", "unconditional", "general public data")
