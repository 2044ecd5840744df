"""De-duplication by natural key: a bounded recent-key cache in front of the sink's unique key.

Natural keys (docs/reliability.md §3) come from the message bytes, so a redelivered MQTT message or
Kafka duplicate maps to the same ``record_id``. The cache is best effort (bounded, per process, lost
on restart); the storage sink's unique key on the same identity is the final guard.

The cache also remembers the payload hash behind each key: the same key with a *different* hash is
not a redelivery but a conflict (a replay, a counter reset or a key collision, docs/reliability.md B12),
which ``remember`` reports so the processor dead-letters it instead of dropping it as a duplicate.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["RecentKeys", "natural_key"]

# Unit separator: cannot occur in the parts we join (ids, integers, ISO times, hex digests).
_SEP = "|"


def natural_key(parts: tuple[str, ...]) -> str:
    """Join natural-key parts into the string hashed by ``record_id_for``."""
    return _SEP.join(parts)


class RecentKeys:
    """LRU map of recently emitted record ids to payload hashes; not thread-safe (one thread)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = "dedup cache capacity must be at least 1"
            raise ValueError(msg)
        self._capacity = capacity
        self._keys: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def check_and_add(self, key: str) -> bool:
        """Return True when ``key`` was seen recently (a duplicate); otherwise remember it."""
        return self.remember(key, "") is not None

    def remember(self, key: str, digest: str) -> str | None:
        """Remember ``key`` with its payload hash; returns the hash it had if seen recently."""
        prior = self._keys.get(key)
        if prior is not None:
            self._keys.move_to_end(key)
            return prior
        self._keys[key] = digest
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return None

    def forget(self, key: str) -> None:
        """Drop ``key`` (used when an emitted record could not be delivered)."""
        self._keys.pop(key, None)
