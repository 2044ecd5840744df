"""C1 catalogue first: MQTT topic filters of ``source_topics``, their overlap, and topic -> entry resolution.

Two filters overlap when some topic name matches both. ``+`` matches one level, ``#`` (last level
only) matches any number of levels including none, so ``V2X/RSU/#`` overlaps ``V2X/RSU/+/+/UP``
and ``V2X/RSU``. Topics starting with ``$`` are outside the catalog (broker system topics).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from processors.catalog.models import DatasetEntry

__all__ = [
    "Resolution",
    "filter_problem",
    "filters_overlap",
    "overlap_problems",
    "resolve_entry",
    "route_problem",
    "topic_matches",
]


def filter_problem(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid MQTT subscription filter (None when it is)."""
    if not topic_filter:
        return "empty topic filter"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return f"'#' must be a whole last level in {topic_filter!r}"
        if "+" in level and level != "+":
            return f"'+' must be a whole level in {topic_filter!r}"
    return None


def _overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    # Walk both filters level by level; '#' ends the walk matching everything after it.
    i = 0
    while True:
        a_end, b_end = i == len(a), i == len(b)
        if (not a_end and a[i] == "#") or (not b_end and b[i] == "#"):
            return True
        if a_end or b_end:
            return a_end and b_end
        if a[i] != b[i] and "+" not in (a[i], b[i]):
            return False
        i += 1


def filters_overlap(a: str, b: str) -> bool:
    """Whether some topic name matches both MQTT filters ``a`` and ``b``."""
    return _overlap(a.split("/"), b.split("/"))


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether the topic name ``topic`` (no wildcards) matches ``topic_filter``."""
    if topic.startswith("$"):
        return False
    return _overlap(topic_filter.split("/"), topic.split("/"))


def overlap_problems(entries: Iterable[DatasetEntry]) -> list[str]:
    """C1 at registration: published entries of one family whose filters overlap, unless split.

    Overlapping filters are accepted only when both entries declare the same
    ``source_discriminator`` (the device profile then names the one dataset a device feeds).
    """
    out: list[str] = []
    published = [e for e in entries if e.status == "published" and e.source_topics]
    for entry in published:
        for topic_filter in entry.source_topics:
            problem = filter_problem(topic_filter)
            if problem:
                out.append(f"{entry.code}: C1: source_topics: {problem}")
    for i, first in enumerate(published):
        for second in published[i + 1 :]:
            if first.family != second.family:
                continue
            pairs = [
                (x, y)
                for x in first.source_topics
                for y in second.source_topics
                if filters_overlap(x, y)
            ]
            split = (
                first.source_discriminator is not None
                and first.source_discriminator == second.source_discriminator
            )
            if pairs and not split:
                x, y = pairs[0]
                out.append(
                    f"{second.code}: C1: source_topics: {y!r} overlaps {x!r} of {first.code} "
                    f"(family {first.family}); one topic feeds one entry unless both declare "
                    "source_discriminator: device_profile"
                )
    return out


@dataclass(frozen=True, slots=True)
class Resolution:
    """The entry a topic feeds, or why none: ``no_catalog_entry`` / ``ambiguous_catalog_entry``."""

    entry: DatasetEntry | None
    reason: Literal["ok", "no_catalog_entry", "ambiguous_catalog_entry"]
    candidates: tuple[str, ...] = ()


def resolve_entry(
    entries: Iterable[DatasetEntry],
    topic: str,
    family: str,
    allowed: Collection[str] | None = None,
) -> Resolution:
    """C1 at ingest: the one published entry of ``family`` whose source_topics match ``topic``.

    ``allowed`` is the set of dataset codes the device's registration or profile permits (None:
    no restriction). Zero matches -> ``no_catalog_entry``; more than one -> ``ambiguous``.
    """
    matches = tuple(
        e
        for e in entries
        if e.status == "published"
        and e.family == family
        and (allowed is None or e.code in allowed)
        and any(topic_matches(f, topic) for f in e.source_topics)
    )
    if not matches:
        return Resolution(None, "no_catalog_entry")
    if len(matches) > 1:
        return Resolution(None, "ambiguous_catalog_entry", tuple(e.code for e in matches))
    return Resolution(matches[0], "ok", (matches[0].code,))


def route_problem(
    entries: Iterable[DatasetEntry],
    topic: str,
    family: str,
    dataset: str,
    allowed: Collection[str],
) -> tuple[Literal["no_catalog_entry", "ambiguous_catalog_entry"], str] | None:
    """C1 at ingest for one record: None when ``topic`` may feed ``dataset``, else (reason, detail).

    The candidates are the published entries of ``family`` among the device's ``allowed``
    datasets whose ``source_topics`` match the topic. ``dataset`` must be one of them; when there
    are several, all of them must declare a ``source_discriminator`` (the device profile then
    names the dataset of each value), otherwise the topic has no single authoritative entry.
    """
    pool = tuple(entries)
    found = resolve_entry(pool, topic, family, allowed)
    names = found.candidates
    if dataset not in names:
        fed = ", ".join(names) or "none of the device's datasets"
        detail = (
            f"topic {topic!r} is not a source_topic of {dataset} for this device "
            f"(it feeds {fed}); one source per data item, nothing is merged"
        )
        return "no_catalog_entry", detail
    if found.reason == "ambiguous_catalog_entry":
        split = [e for e in pool if e.code in names and e.source_discriminator is not None]
        if len(split) != len(names):
            detail = (
                f"topic {topic!r} matches the source_topics of {', '.join(names)} without a "
                "source_discriminator; the record is not routed to any of them"
            )
            return "ambiguous_catalog_entry", detail
    return None
