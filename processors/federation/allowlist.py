"""The topics that may leave an instance for the province, computed from the catalog alone.

Share topics leave only for entries whose share scope includes the province (unconditional
sharing includes everyone; a conditional entry must name the province's scope token; class
``none`` never leaves). Open topics, corrections, signed checkpoints and catalog registrations
always leave. Raw, data, quarantine and dead-letter topics never do, whatever the catalog says.
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.topics import dlq_topic, quarantine_topic
from processors.catalog.models import DatasetEntry
from processors.federation.config import REGISTRATION_TOPIC, FederationError

__all__ = ["allowed_topics", "is_forbidden", "share_reaches_province"]


def share_reaches_province(entry: DatasetEntry, province_scope: str) -> bool:
    """Whether the entry's share tier may be replicated to the provincial platform."""
    if entry.status == "retired" or entry.kafka_topics.share is None:
        return False
    if entry.share_class == "unconditional":
        return True
    if entry.share_class == "conditional":
        return entry.share_terms is not None and province_scope in entry.share_terms.scope
    return False


def is_forbidden(topic: str, prefix: str) -> bool:
    """Raw, data, quarantine and dead-letter topics: never replicated."""
    return topic.startswith((f"{prefix}raw.", f"{prefix}data.")) or topic in (
        dlq_topic(prefix),
        quarantine_topic(prefix),
    )


def allowed_topics(
    entries: Iterable[DatasetEntry], prefix: str, province_scope: str = "province"
) -> tuple[str, ...]:
    """Sorted, exact topic names MirrorMaker 2 may replicate (never a pattern)."""
    topics = {
        f"{prefix}corrections",
        f"{prefix}checkpoints",
        f"{prefix}{REGISTRATION_TOPIC}",
    }
    for entry in entries:
        if entry.status == "retired":
            continue
        if share_reaches_province(entry, province_scope) and entry.kafka_topics.share:
            topics.add(prefix + entry.kafka_topics.share)
        if entry.open_class != "none" and entry.kafka_topics.open:
            topics.add(prefix + entry.kafka_topics.open)
    bad = sorted(t for t in topics if is_forbidden(t, prefix))
    if bad:  # a catalog naming a share/open topic inside data./raw. must not smuggle it out
        msg = f"catalog maps a share or open tier onto a forbidden topic: {bad}"
        raise FederationError(msg)
    return tuple(sorted(topics))
