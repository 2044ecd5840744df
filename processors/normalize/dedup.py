"""De-duplication by natural key: a bounded recent-key cache in front of the sink's unique key.

Natural keys (docs/reliability.md §3) come from the message bytes, so a redelivered MQTT message or
Kafka duplicate maps to the same ``record_id``. The cache is best effort (bounded, per process, lost
on restart); the storage sink's unique key on the same identity is the final guard.
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
    """LRU set of recently emitted record ids; not thread-safe (one processor, one thread)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = "dedup cache capacity must be at least 1"
            raise ValueError(msg)
        self._capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def check_and_add(self, key: str) -> bool:
        """Return True when ``key`` was seen recently (a duplicate); otherwise remember it."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return False

    def forget(self, key: str) -> None:
        """Drop ``key`` (used when an emitted record could not be delivered)."""
        self._keys.pop(key, None)
