"""De-identification primitives for the share and open tiers (docs/governance.md §3, P1-P5).

* ``RotatingKeyring`` - keyed pseudonyms (P1): HMAC-SHA256 under a key derived per
  (tier, dataset, epoch) from a configured master secret, so keys rotate on their own every
  ``epoch_days`` and every output names the key id it used. Destroying the master secret destroys
  every derived key; nothing is stored that maps pseudonyms back.
* ``grid_cell`` - spatial generalisation (P2) to square cells of a declared size in metres.
* ``time_bucket`` - temporal generalisation (P3): floor to the bucket, sub-second parts dropped.
* ``CellWindow`` - small-cell suppression (P4) over (cell, bucket, group) windows: a window is
  released only when at least ``k`` distinct entities contributed to it.

All functions are pure; ``CellWindow`` holds state and is not thread-safe (one per consumer task).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import unicodedata
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from processors.exceptions import ConfigurationError

__all__ = [
    "METRES_PER_DEGREE",
    "CellWindow",
    "GridCell",
    "RotatingKeyring",
    "WindowKey",
    "WindowRelease",
    "grid_cell",
    "time_bucket",
]

# Mean length of one degree of latitude; good to <1 % everywhere, which is what a grid needs.
METRES_PER_DEGREE = 111_320.0
_HEX_CHARS = 32
_EPOCH_ZERO = datetime(1970, 1, 1, tzinfo=UTC)


class RotatingKeyring:
    """Keyed pseudonyms whose key rotates every ``epoch_days`` (P1); pure, safe to share.

    The key of (tier, dataset, epoch n) is HMAC(master, "tier|dataset|n"); its id is
    ``<master id>:<tier>:<n>``. The same value in the same epoch always gets the same pseudonym;
    across epochs, tiers or datasets the pseudonyms are unrelated.
    """

    def __init__(self, masters: Mapping[str, SecretStr], active_id: str) -> None:
        if active_id not in masters:
            msg = f"active master key id {active_id!r} is not configured"
            raise ConfigurationError(msg)
        secret = masters[active_id].get_secret_value()
        if len(secret) < 16:
            msg = f"master key {active_id!r} is shorter than 16 characters"
            raise ConfigurationError(msg)
        self._master = secret.encode()
        self.master_id = active_id

    @staticmethod
    def epoch_of(moment: datetime, epoch_days: int) -> int:
        """Index of the key epoch ``moment`` falls in (epochs start at the Unix epoch, UTC)."""
        if epoch_days <= 0:
            msg = f"epoch_days must be positive, got {epoch_days}"
            raise ConfigurationError(msg)
        return (moment - _EPOCH_ZERO) // timedelta(days=epoch_days)

    def key_id(self, tier: str, dataset: str, epoch: int) -> str:
        """The id stated on outputs made with the key of (tier, dataset, epoch)."""
        return f"{self.master_id}:{tier}:{epoch}"

    def _key(self, tier: str, dataset: str, epoch: int) -> bytes:
        label = f"{tier}|{dataset}|{epoch}".encode()
        return hmac.new(self._master, label, hashlib.sha256).digest()

    def pseudonym(
        self,
        value: object,
        *,
        tier: str,
        dataset: str,
        item: str,
        moment: datetime,
        epoch_days: int,
    ) -> tuple[str, str]:
        """Pseudonym of ``value`` for one item, with the id of the key used: ``(pseudonym, key_id)``.

        The value is normalised (text form, NFC, surrounding blanks removed) and domain-separated
        by item name, so one identifier gets different pseudonyms in different items.
        """
        epoch = self.epoch_of(moment, epoch_days)
        text = unicodedata.normalize("NFC", str(value).strip())
        digest = hmac.new(
            self._key(tier, dataset, epoch), item.encode() + b"\x1f" + text.encode(), hashlib.sha256
        ).hexdigest()
        return digest[:_HEX_CHARS], self.key_id(tier, dataset, epoch)


@dataclass(frozen=True, slots=True)
class GridCell:
    """A square cell of ``size_m`` metres; ``lat``/``lon`` is its centre, the only position released."""

    size_m: int
    row: int
    col: int
    lat: float
    lon: float

    @property
    def cell_id(self) -> str:
        """Stable text id, e.g. ``g1000:4871:11398``."""
        return f"g{self.size_m}:{self.row}:{self.col}"


def grid_cell(lat: float, lon: float, size_m: int) -> GridCell:
    """The grid cell containing (lat, lon) for cells of ``size_m`` metres (P2).

    Rows are bands of equal latitude height; within a row the longitude step is widened by
    1/cos(latitude of the row's centre) so cells stay about ``size_m`` wide. Positions are
    released only as the cell centre, rounded to 6 decimals.
    """
    if size_m <= 0:
        msg = f"cell size must be positive, got {size_m}"
        raise ConfigurationError(msg)
    lat_step = size_m / METRES_PER_DEGREE
    row = math.floor((lat + 90.0) / lat_step)
    centre_lat = -90.0 + (row + 0.5) * lat_step
    lon_step = lat_step / max(math.cos(math.radians(centre_lat)), 1e-6)
    col = math.floor((lon + 180.0) / lon_step)
    centre_lon = -180.0 + (col + 0.5) * lon_step
    return GridCell(size_m, row, col, round(centre_lat, 6), round(centre_lon, 6))


def time_bucket(moment: datetime, bucket_s: int) -> datetime:
    """Start of the ``bucket_s``-second bucket holding ``moment`` (P3), in UTC, no sub-seconds."""
    if bucket_s <= 0:
        msg = f"bucket length must be positive, got {bucket_s}"
        raise ConfigurationError(msg)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((moment - _EPOCH_ZERO).total_seconds() // bucket_s) * bucket_s
    return _EPOCH_ZERO + timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class WindowKey:
    """Identity of one suppression window: which output, where, when, and the group-by values."""

    target: str
    cell_id: str
    bucket_start: datetime
    group: tuple[tuple[str, Hashable], ...] = ()


@dataclass(slots=True)
class _Window:
    entities: set[str] = field(default_factory=set)
    rows: list[Any] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowRelease:
    """A closed window: ``released`` is False when it had fewer than ``k`` distinct entities."""

    key: WindowKey
    entity_count: int
    rows: tuple[Any, ...]
    released: bool


class CellWindow:
    """Collects rows per (cell, bucket, group) and releases a window only if >= k entities (P4).

    A window closes when the watermark (latest event time seen, minus ``lateness``) passes its
    bucket end. Rows arriving for a window that already closed are refused (``add`` returns
    False) and counted as late, so a small cell can never be topped up after it was suppressed.
    The lowest Kafka offset still held per partition is exposed so the runner commits only what
    every open window has let go of.
    """

    def __init__(self, *, bucket_s: int, k: int, lateness: timedelta = timedelta(0)) -> None:
        if k < 1:
            msg = f"k must be at least 1, got {k}"
            raise ConfigurationError(msg)
        self._bucket = timedelta(seconds=bucket_s)
        self.k = k
        self._lateness = lateness
        self._open: dict[WindowKey, _Window] = {}
        self._closed_before: datetime | None = None
        self.late = 0

    def add(
        self, key: WindowKey, entity: str, row: Any, partition: tuple[str, int], offset: int
    ) -> bool:
        """Add one row; False (and counted as late) when its window has already closed."""
        if self._closed_before is not None and key.bucket_start < self._closed_before:
            self.late += 1
            return False
        window = self._open.setdefault(key, _Window())
        window.entities.add(entity)
        window.rows.append(row)
        window.offsets.setdefault(partition, offset)
        return True

    def close_until(self, event_time: datetime) -> Iterator[WindowRelease]:
        """Close every window whose bucket ended before ``event_time - lateness``."""
        horizon = event_time - self._lateness
        boundary = time_bucket(horizon, int(self._bucket.total_seconds()))
        if self._closed_before is None or boundary > self._closed_before:
            self._closed_before = boundary
        yield from self._close(lambda k: k.bucket_start + self._bucket <= horizon)

    def close_all(self) -> Iterator[WindowRelease]:
        """Close every open window (shutdown or end of a bounded run)."""
        yield from self._close(lambda _k: True)

    def _close(self, due: Any) -> Iterator[WindowRelease]:
        for key in sorted(
            (k for k in self._open if due(k)), key=lambda k: (k.bucket_start, k.cell_id)
        ):
            window = self._open.pop(key)
            count = len(window.entities)
            yield WindowRelease(key, count, tuple(window.rows), count >= self.k)

    def held_offsets(self) -> dict[tuple[str, int], int]:
        """Lowest offset per (topic, partition) still held by an open window."""
        held: dict[tuple[str, int], int] = {}
        for window in self._open.values():
            for tp, offset in window.offsets.items():
                held[tp] = min(offset, held.get(tp, offset))
        return held

    def __len__(self) -> int:
        return len(self._open)
