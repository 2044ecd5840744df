"""The PostgreSQL/TimescaleDB sink: exactly-once batches with offsets, provenance and log leaves.

Guarantees: one transaction per flush holds the new data rows, their provenance rows, their log
leaves and the next offsets of every partition in the batch. Offsets are row-locked, records below
the stored offset are skipped (a replayed batch is a no-op) and the offset moves by compare-and-set,
so neither a crash, a rebalance nor a zombie consumer stores a record twice; the UNIQUE
(record_id, observed_at) constraint is the final guard. Rejected records are handed to the
dead-letter writer before the commit. Transient errors (``sqlstate``) are retried with capped
exponential back-off on a fresh connection if needed; a data error makes the batch go row by row
under savepoints so the bad row is dead-lettered and the rest stored. Not safe for concurrent
flushes on one instance; one asyncio loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from contracts.dead_letter import DeadLetter, ReasonCode, Stage
from contracts.sealed import SEALED_FIELD_KID
from processors.catalog import Catalog, DatasetEntry
from processors.exceptions import StorageError
from processors.provenance.checkpoint import write_checkpoints
from processors.provenance.keys import Signer
from processors.provenance.log import LeafInput, append_leaves
from processors.provenance.personal import (
    SubjectKeys,
    ensure_subject_keys,
    keys_by_id,
    subject_item,
    subject_ref,
)
from processors.provenance.rowdocs import (
    PROVENANCE_COLUMNS,
    data_columns,
    data_row_sha256,
    provenance_row_sha256,
)
from processors.sinks.base import DeadLetterWriter, FlushResult, Sink, SinkInput, TopicPartition
from processors.sinks.config import ProvenanceConfig, SinkConfig
from processors.sinks.gaps import count_gaps, find_gaps, gap_letter
from processors.sinks.rows import PreparedRow, RowRejected, data_row, prepare, provenance_row
from processors.sinks.sqlstate import is_data_error, to_storage_error
from processors.sinks.writer import (
    column_types,
    create_staging,
    insert_one,
    insert_provenance,
    insert_rows,
    lock_offsets,
    read_offsets,
    store_offsets,
)
from processors.storage.partitions import ensure_partitions, is_partitioned, month_start

__all__ = ["TimescaleSink", "connect"]

logger = logging.getLogger(__name__)


async def connect(dsn: str, schema: str, application_name: str) -> AsyncConnection[Any]:
    """Open an autocommit connection bound to ``schema`` with TCP keepalives."""
    conn = await AsyncConnection.connect(
        dsn, autocommit=True, application_name=application_name, connect_timeout=10,
        keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
    )  # fmt: skip
    await conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    return conn


def _envelope_of(item: SinkInput) -> dict[str, Any]:
    """Best-effort raw-message metadata of a data record, so DLQ identities match the source."""
    envelope: dict[str, Any] = {"device_id": (item.key or b"").decode("utf-8", "replace")}
    try:
        prov = json.loads(item.value or b"")["provenance"]
        envelope.update(
            device_id=str(prov["device_id"]), topic=str(prov["mqtt_topic"]),
            received_ns=int(prov["received_ns"]), gateway_id=str(prov["gateway_id"]),
            sha256=str(prov["raw_sha256"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        pass
    return envelope


def _subject_pair(row: PreparedRow) -> tuple[str, str] | None:
    """``(dataset, subject_ref)`` of a row of a personal dataset, or None."""
    name = subject_item(row.entry)
    if name is None:
        return None
    value = row.values[[i.name for i in row.entry.items].index(name)]
    return None if value is None else (row.entry.code, subject_ref(row.entry.code, str(value)))


def _dead_letter(item: SinkInput, reason: ReasonCode, detail: str) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail=detail,
        stage=Stage.SINK,
        payload=item.value or b"",
        envelope=_envelope_of(item),
        coordinates={"topic": item.topic, "partition": item.partition, "offset": item.offset},
    )


class TimescaleSink(Sink):
    """Writes data-topic records to their catalog tables exactly once (see module docstring)."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        catalog: Catalog,
        group_id: str,
        topic_prefix: str,
        dead_letters: DeadLetterWriter,
        config: SinkConfig | None = None,
        provenance: ProvenanceConfig | None = None,
        application_name: str = "sensegate-sink",
        binary_copy: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._dsn, self._schema, self._catalog = dsn, schema, catalog
        self._group, self._prefix = group_id, topic_prefix
        self._dead_letters = dead_letters
        self._config = config or SinkConfig()
        self._prov = provenance or ProvenanceConfig()
        self._app = application_name
        self._binary = binary_copy  # False: text COPY, the former path (equivalence test)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._signer = Signer(self._prov.signing_key) if self._prov.signing_key else None
        self._conn: AsyncConnection[Any] | None = None
        self._buffer: list[SinkInput] = []
        self.retries = 0  # transient failures retried since start
        self._expected: dict[TopicPartition, int] = {}
        self._partitioned: dict[str, bool] = {}
        self._types: dict[str, tuple[int, ...]] = {}  # COPY column type oids per table
        self._months: set[tuple[str, datetime]] = set()
        self._leaves_since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._subject_keys: SubjectKeys = {}  # of the batch being stored

    async def __aenter__(self) -> TimescaleSink:
        await self._connection()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._conn is not None:
            await self._conn.close()
        conn = await connect(self._dsn, self._schema, self._app)
        await create_staging(conn, self._catalog.entries.values())
        self._types["provenance"] = await column_types(conn, "provenance", PROVENANCE_COLUMNS)
        for entry in self._catalog.entries.values():
            table = entry.storage_table
            self._partitioned[table] = await is_partitioned(conn, self._schema, table)
            self._types[table] = await column_types(conn, table, data_columns(entry))
        self._conn = conn
        return conn

    async def load_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Read the stored offsets of newly assigned partitions and expect them from now on."""
        stored: dict[TopicPartition, int] = await self._with_retry(
            lambda conn: read_offsets(conn, self._group, tps), "read offsets"
        )
        for tp in tps:
            self._expected.pop(tp, None)
        self._expected.update(stored)
        return stored

    def forget(self, tps: list[TopicPartition]) -> None:
        """Drop the expectations of revoked partitions."""
        for tp in tps:
            self._expected.pop(tp, None)

    def add(self, item: SinkInput) -> None:
        """Buffer one consumed record."""
        self._buffer.append(item)

    async def close(self) -> None:
        """Close the connection; idempotent."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _with_retry(self, op: Any, what: str) -> Any:
        delay, attempt = self._config.retry_initial_s, 0
        while True:
            try:
                conn = await self._connection()
                return await op(conn)
            except (psycopg.Error, OSError) as exc:
                err = to_storage_error(exc, what)
                if not err.retriable:
                    raise err from exc
                last: StorageError = err
            except StorageError as exc:
                if not exc.retriable:
                    raise
                last = exc
            attempt += 1
            self.retries += 1
            if self._config.retry_attempts is not None and attempt >= self._config.retry_attempts:
                raise last
            logger.warning("%s failed (%s); retry %d in %.1fs", what, last, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.retry_max_s)

    async def flush(self) -> FlushResult:
        """Write everything added since the last flush (see class docstring)."""
        items, self._buffer = self._buffer, []
        if not items:
            return FlushResult()
        retries_before = self.retries
        prepared: list[PreparedRow] = []
        rejected: list[tuple[SinkInput, DeadLetter]] = []
        # Sealed records (personal datasets) open with their subjects' live keys, fetched once per
        # batch; the transaction locks the keys again, so an erasure in between cannot be missed.
        kids = {
            m.group(1).decode() for i in items if (m := SEALED_FIELD_KID.search(i.value or b""))
        }
        keys = await self._with_retry(lambda conn: keys_by_id(conn, kids), "keys") if kids else {}
        for item in items:
            try:
                prepared.append(prepare(item, self._catalog, self._prefix, keys))
            except RowRejected as exc:
                rejected.append((item, _dead_letter(item, exc.reason, exc.detail)))
        last: dict[TopicPartition, int] = {}
        for item in items:
            tp = (item.topic, item.partition)
            last[tp] = max(last.get(tp, -1), item.offset)
        await self._with_retry(lambda conn: self._ensure_partitions(conn, prepared), "partitions")
        careful = False

        async def attempt(conn: AsyncConnection[Any]) -> FlushResult:
            nonlocal careful
            try:
                return await self._transaction(conn, prepared, rejected, last, careful)
            except psycopg.Error as exc:
                if not careful and is_data_error(exc.sqlstate):
                    logger.warning("batch hit a data error (%s); going row by row", exc.sqlstate)
                    careful = True
                    err = StorageError(str(exc), retriable=True, sqlstate=exc.sqlstate)
                    raise err from exc
                raise

        result: FlushResult = await self._with_retry(attempt, "flush")
        result.retries = self.retries - retries_before
        await self.maybe_checkpoint()
        return result

    async def _ensure_partitions(self, conn: AsyncConnection[Any], rows: list[PreparedRow]) -> None:
        wanted: dict[str, set[datetime]] = defaultdict(set)
        for r in rows:
            table = r.entry.storage_table
            key = (table, month_start(r.record.observed_at))
            if self._partitioned.get(table) and key not in self._months:
                wanted[table].add(key[1])
        for table, months in wanted.items():
            await ensure_partitions(conn, self._schema, table, months)
            self._months.update((table, m) for m in months)

    async def _transaction(
        self,
        conn: AsyncConnection[Any],
        prepared: list[PreparedRow],
        rejected: list[tuple[SinkInput, DeadLetter]],
        last: dict[TopicPartition, int],
        careful: bool,
    ) -> FlushResult:
        result = FlushResult()
        now = self._clock()
        async with conn.transaction():
            stored = await lock_offsets(conn, self._group, last)

            def fresh(item: SinkInput) -> bool:
                return item.offset >= stored.get((item.topic, item.partition), -1)

            rows = [r for r in prepared if fresh(r.source)]
            letters = [d for i, d in rejected if fresh(i)]
            result.skipped = len(prepared) + len(rejected) - len(rows) - len(letters)
            # Never skip silently: records Kafka no longer has become offset_gap dead letters.
            gaps = find_gaps(stored, [r.source for r in prepared] + [i for i, _ in rejected])
            letters += [gap_letter(g, self._group) for g in gaps]
            for tp, have in stored.items():
                if tp in self._expected and self._expected[tp] != have:
                    logger.warning(
                        "offset of %s[%d] moved from %d to %d by another consumer",
                        tp[0], tp[1], self._expected[tp], have,
                    )  # fmt: skip
            rows, erased = await self._still_live(conn, rows)
            letters += erased
            bad: list[DeadLetter] = []
            # Personal datasets: each subject's key salts the commitments its rows are logged with.
            self._subject_keys = await ensure_subject_keys(
                conn, {p for p in map(_subject_pair, rows) if p is not None}
            )
            if careful:
                leaves, bad = await self._insert_careful(conn, rows, now)
            else:
                leaves = await self._insert_bulk(conn, rows, now)
            await append_leaves(conn, leaves, now, self._prov.period_s)
            updates: dict[TopicPartition, tuple[int | None, int]] = {}
            for tp, top in last.items():
                previous = stored.get(tp)
                new = max(-1 if previous is None else previous, top + 1)
                updates[tp] = (previous, new)
                if new != top + 1:
                    result.seek_to[tp] = new
            await store_offsets(conn, self._group, updates)
            letters += bad
            if letters:
                await self._dead_letters(letters)
        count_gaps(gaps, self._group)
        result.rejected = letters
        result.gaps = len(gaps)
        result.stored = sum(1 for leaf in leaves if leaf.kind == "record")
        result.duplicates = len(rows) - result.stored - len(bad)
        self._leaves_since_checkpoint += len(leaves)
        for tp, (_, new) in updates.items():
            self._expected[tp] = new
        return result

    @staticmethod
    async def _still_live(
        conn: AsyncConnection[Any], rows: list[PreparedRow]
    ) -> tuple[list[PreparedRow], list[DeadLetter]]:
        """Rows whose sealing key is still live (locked till commit), and letters for the others."""
        kids = {r.kid for r in rows if r.kid is not None}
        if not kids:
            return rows, []
        live = await keys_by_id(conn, kids, lock=True)
        kept = [r for r in rows if r.kid is None or r.kid in live]
        letters = [
            _dead_letter(r.source, ReasonCode.SUBJECT_ERASED, f"data key {r.kid} was destroyed")
            for r in rows
            if r.kid is not None and r.kid not in live
        ]
        return kept, letters

    def _copy_types(self, table: str) -> tuple[int, ...] | None:
        return self._types[table] if self._binary else None

    def _prov_leaf(self, row: PreparedRow, values: tuple[Any, ...]) -> LeafInput:
        return LeafInput(
            "provenance", row.entry.code, row.provenance_id, None,
            row.record.provenance.device_id, provenance_row_sha256(values),
        )  # fmt: skip

    def _data_leaf(self, row: PreparedRow, values: tuple[Any, ...]) -> LeafInput:
        pair = _subject_pair(row)
        key = self._subject_keys.get(pair) if pair is not None else None
        return LeafInput(
            "record", row.entry.code, row.record.record_id, row.record.observed_at,
            row.record.provenance.device_id, data_row_sha256(row.entry, values, key=key),
        )  # fmt: skip

    async def _insert_bulk(
        self, conn: AsyncConnection[Any], rows: list[PreparedRow], now: datetime
    ) -> list[LeafInput]:
        prov: dict[str, tuple[PreparedRow, tuple[Any, ...]]] = {}
        for r in rows:
            prov.setdefault(r.provenance_id, (r, provenance_row(r, now)))
        new_prov = await insert_provenance(
            conn, [v for _, v in prov.values()], self._copy_types("provenance")
        )
        leaves = [self._prov_leaf(r, v) for pid, (r, v) in prov.items() if pid in new_prov]
        by_entry: dict[str, list[tuple[PreparedRow, tuple[Any, ...]]]] = defaultdict(list)
        for r in rows:
            by_entry[r.entry.code].append((r, data_row(r, now)))
        for pairs in by_entry.values():
            entry: DatasetEntry = pairs[0][0].entry
            types = self._copy_types(entry.storage_table)
            new = await insert_rows(conn, entry, [v for _, v in pairs], types)
            for r, v in pairs:
                key = (r.record.record_id, r.record.observed_at)
                if key in new:
                    new.discard(key)  # a duplicate inside the batch is logged once
                    leaves.append(self._data_leaf(r, v))
        return leaves

    async def _insert_careful(
        self, conn: AsyncConnection[Any], rows: list[PreparedRow], now: datetime
    ) -> tuple[list[LeafInput], list[DeadLetter]]:
        leaves: list[LeafInput] = []
        bad: list[DeadLetter] = []
        for r in rows:
            pv, dv = provenance_row(r, now), data_row(r, now)
            try:
                async with conn.transaction():  # a savepoint per row
                    new_prov = await insert_one(
                        conn, "provenance", PROVENANCE_COLUMNS, pv, "provenance_id"
                    )
                    new_row = await insert_one(
                        conn, r.entry.storage_table, data_columns(r.entry), dv,
                        "record_id, observed_at",
                    )  # fmt: skip
            except psycopg.Error as exc:
                if not is_data_error(exc.sqlstate):
                    raise
                detail = f"{exc.sqlstate}: {str(exc).splitlines()[0]}"
                bad.append(_dead_letter(r.source, ReasonCode.DATA_REJECTED, detail))
                continue
            if new_prov:
                leaves.append(self._prov_leaf(r, pv))
            if new_row:
                leaves.append(self._data_leaf(r, dv))
        return leaves, bad

    async def maybe_checkpoint(self) -> None:
        """Checkpoint when enough leaves or enough time accumulated since the last one."""
        loop_time = time.monotonic()
        due = self._leaves_since_checkpoint >= self._prov.checkpoint_every_leaves or (
            self._leaves_since_checkpoint
            and loop_time - self._last_checkpoint >= self._prov.checkpoint_interval_s
        )
        if due:
            await self.checkpoint()

    async def checkpoint(self) -> int:
        """Sign checkpoints for every period that grew; returns how many were written."""
        if self._signer is None:
            logger.warning("no provenance signing key configured: log checkpoints are not signed")
            self._leaves_since_checkpoint = 0
            return 0
        signer = self._signer
        made = await self._with_retry(
            lambda conn: write_checkpoints(conn, signer, self._prov.origin), "checkpoint"
        )
        self._leaves_since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        return len(made)
