"""Seal the personal values of a batch's records under their subjects' keys before they reach Kafka.

For a personal dataset (catalog ``data_category`` ``personal``), a record's personal items and its
location are sealed (``processors.provenance.sealed_records``) under the key of its data subject
(the pseudonymised identifier item), from ``pi_subject_key``. Keys are fetched, or created when new,
once per batch for the subjects not cached; the cache holds a key ``cache_s`` seconds, so records
sealed after an erasure with a cached (destroyed) key reach the sink as erased, never in clear.
A database failure fails the batch before anything is produced: it is redone (docs/normalize.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from contracts.record import WireRecord
from processors.catalog import Catalog
from processors.provenance.keytable import KeyTable, KeyTableError
from processors.provenance.personal import subject_item, subject_ref
from processors.provenance.sealed_records import personal_items, seal_wire

__all__ = ["RecordSealer"]

_CACHE_MAX = 100_000


class RecordSealer:
    """Seals records of personal datasets; one instance per runner (holds a connection)."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        catalog: Catalog,
        cache_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn, self._schema = dsn, schema
        self._cache_s, self._clock = cache_s, clock
        self._personal: dict[str, tuple[str, tuple[str, ...]]] = {}
        for entry in catalog:
            name, names = subject_item(entry), personal_items(entry)
            if name is not None and names:
                self._personal[entry.code] = (name, names)
        self._cache: dict[tuple[str, str], tuple[str, bytes, float]] = {}
        self._keys = KeyTable(dsn, schema, "sensegate-normalize-seal")
        self.sealed = 0  # records sealed since start

    @property
    def datasets(self) -> tuple[str, ...]:
        """Codes of the datasets whose records are sealed."""
        return tuple(sorted(self._personal))

    async def close(self) -> None:
        """Close the database connection."""
        await self._keys.close()

    async def seal(self, records: Sequence[WireRecord]) -> list[WireRecord]:
        """The records as they go to the data topics: personal ones sealed, the others as given."""
        subjects: list[tuple[str, str] | None] = []
        for r in records:
            spec = self._personal.get(r.dataset)
            value = r.values.get(spec[0]) if spec else None
            subjects.append(
                None if value is None else (r.dataset, subject_ref(r.dataset, str(value)))
            )
        now = self._clock()
        missing = {
            p
            for p in subjects
            if p is not None and (p not in self._cache or now - self._cache[p][2] > self._cache_s)
        }
        if missing:
            await self._fetch(missing, now)
        out: list[WireRecord] = []
        for r, pair in zip(records, subjects, strict=True):
            if pair is None:
                out.append(r)
                continue
            kid, key, _ = self._cache[pair]
            out.append(seal_wire(r, self._personal[r.dataset][1], key, kid))
        self.sealed += sum(1 for p in subjects if p is not None)
        return out

    async def _fetch(self, wanted: set[tuple[str, str]], now: float) -> None:
        found = await self._keys.ensure(wanted)
        if len(self._cache) > _CACHE_MAX:
            self._cache.clear()  # bounded: a key is fetched again at most once per batch
        for pair, (kid, key) in found.items():
            self._cache[pair] = (kid, key, now)
        lost = wanted - set(found)
        if lost:  # cannot happen: the insert makes every wanted key live
            msg = f"{len(lost)} subject key(s) missing after creation"
            raise KeyTableError(msg)
