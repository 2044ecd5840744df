"""Appending to the tamper-evident log inside the caller's transaction.

Each leaf commits to one logged row (provenance row, data row or correction event) through the
SHA-256 of its canonical form, and links the source's hash chain: ``prev`` is the leaf hash of the
source's previous leaf and ``chain_seq`` its position. Leaves are numbered gap-free per period;
the ``tlog_head`` row lock serializes writers of a period, and chain heads are locked in source
order so concurrent writers cannot deadlock on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring
from typing import Any, Literal

from psycopg import AsyncConnection

from processors.provenance.canonical import canonical_bytes, iso_utc
from processors.provenance.merkle import leaf_hash

__all__ = [
    "CHAIN_START",
    "LEAF_COLUMNS",
    "LeafInput",
    "LeafKind",
    "append_leaves",
    "leaf_doc",
    "leaf_hash_hex",
    "leaf_hash_of",
    "period_start",
]

LeafKind = Literal["provenance", "record", "correction"]
CHAIN_START = "0" * 64
LEAF_COLUMNS = (
    "period_start", "leaf_index", "kind", "dataset", "ref_id", "observed_at", "source",
    "chain_seq", "row_sha256", "chain_prev", "leaf_hash", "logged_at",
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeafInput:
    """A row to log: what it is, which source's chain it extends, and its canonical hash."""

    kind: LeafKind
    dataset: str
    ref_id: str
    observed_at: datetime | None
    source: str
    row_sha256: str


def period_start(ts: datetime, period_s: int) -> datetime:
    """Start of the log period holding ``ts`` (periods are aligned to the Unix epoch)."""
    seconds = int((ts - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % period_s)


def leaf_doc(  # noqa: PLR0917 - positional order is the tlog_leaf column order
    kind: str,
    dataset: str,
    ref_id: str,
    observed_at: datetime | str | None,
    source: str,
    chain_seq: int,
    row_sha256: str,
    chain_prev: str,
) -> dict[str, Any]:
    """The leaf data as a document; its canonical bytes are hashed with the 0x00 prefix."""
    obs = iso_utc(observed_at) if isinstance(observed_at, datetime) else observed_at
    return {
        "v": 1,
        "kind": kind,
        "dataset": dataset,
        "ref": ref_id,
        "observed_at": obs,
        "source": source,
        "seq": chain_seq,
        "row": row_sha256,
        "prev": chain_prev,
    }


def leaf_hash_hex(doc: dict[str, Any]) -> str:
    """RFC 6962 leaf hash of a leaf document, hex."""
    return leaf_hash(canonical_bytes(doc)).hex()


# leaf_doc's canonical bytes with the keys already in sorted order: the sink hashes two leaves per
# record, and filling a template is several times cheaper than building and encoding the document.
_LEAF_TEMPLATE = (
    '{{"dataset":{},"kind":{},"observed_at":{},"prev":{},"ref":{},"row":{},"seq":{},"source":{},'
    '"v":1}}'
)


def leaf_hash_of(  # noqa: PLR0917 - same positional order as leaf_doc
    kind: str,
    dataset: str,
    ref_id: str,
    observed_at: datetime | None,
    source: str,
    chain_seq: int,
    row_sha256: str,
    chain_prev: str,
) -> str:
    """``leaf_hash_hex(leaf_doc(...))`` computed without the document (byte-identical)."""
    plain = type(chain_seq) is int and (observed_at is None or isinstance(observed_at, datetime))
    if not plain or not all(
        type(v) is str for v in (kind, dataset, ref_id, source, row_sha256, chain_prev)
    ):  # anything unusual takes the document path, which defines the bytes
        return leaf_hash_hex(leaf_doc(
            kind, dataset, ref_id, observed_at, source, chain_seq, row_sha256, chain_prev,
        ))  # fmt: skip
    s = encode_basestring
    obs = "null" if observed_at is None else s(iso_utc(observed_at))
    text = _LEAF_TEMPLATE.format(
        s(dataset), s(kind), obs, s(chain_prev), s(ref_id), s(row_sha256), chain_seq, s(source)
    )
    return leaf_hash(text.encode("utf-8")).hex()


# COPY text format: backslash, tab, newline and carriage return are escaped in a field (NUL cannot
# be stored in PostgreSQL text at all, so it fails here as it would with write_row). Leaf rows are
# all text, integers and UTC timestamps, so they are formatted here, several times faster than the
# generic per-row adaptation.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _esc(text: str) -> str:
    # Hex hashes, ids and codes are alphanumeric: nothing to escape, and no new string.
    return text if text.isalnum() else text.translate(_COPY_ESCAPES)


def _copy_line(*fields: str) -> str:
    return "\t".join(fields) + "\n"


async def append_leaves(
    conn: AsyncConnection[Any], leaves: Sequence[LeafInput], logged_at: datetime, period_s: int
) -> int:
    """Sequence ``leaves`` into the log in the current transaction; returns the new tree size."""
    if not leaves:
        return 0
    period = period_start(logged_at, period_s)
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO tlog_head (period_start, size) VALUES (%s, 0) ON CONFLICT DO NOTHING",
            (period,),
        )
        await cur.execute(
            "SELECT size FROM tlog_head WHERE period_start = %s FOR UPDATE", (period,)
        )
        row = await cur.fetchone()
        size = int(row[0]) if row else 0
        sources = sorted({leaf.source for leaf in leaves})
        await cur.execute(
            "INSERT INTO tlog_chain_head (source, last_hash, length) "
            "SELECT s, %s, 0 FROM unnest(%s::text[]) AS s ORDER BY s ON CONFLICT DO NOTHING",
            (CHAIN_START, sources),
        )
        await cur.execute(
            "SELECT source, last_hash, length FROM tlog_chain_head WHERE source = ANY(%s) "
            "ORDER BY source FOR UPDATE",
            (sources,),
        )
        heads = {s: (h, int(n)) for s, h, n in await cur.fetchall()}
        lines = []
        period_t, logged_t = iso_utc(period), iso_utc(logged_at)
        for offset, leaf in enumerate(leaves):
            prev, length = heads[leaf.source]
            digest = leaf_hash_of(
                leaf.kind, leaf.dataset, leaf.ref_id, leaf.observed_at, leaf.source,
                length, leaf.row_sha256, prev,
            )  # fmt: skip
            heads[leaf.source] = (digest, length + 1)
            obs = "\\N" if leaf.observed_at is None else iso_utc(leaf.observed_at)
            lines.append(_copy_line(
                period_t, str(size + offset), _esc(leaf.kind), _esc(leaf.dataset),
                _esc(leaf.ref_id), obs, _esc(leaf.source), str(length), _esc(leaf.row_sha256),
                _esc(prev), digest, logged_t,
            ))  # fmt: skip
        async with cur.copy(f"COPY tlog_leaf ({', '.join(LEAF_COLUMNS)}) FROM STDIN") as copy:
            await copy.write("".join(lines))
        await cur.execute(
            "UPDATE tlog_chain_head AS h SET last_hash = u.last_hash, length = u.length "
            "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS u (source, last_hash, length) "
            "WHERE h.source = u.source",
            (list(heads), [h for h, _ in heads.values()], [n for _, n in heads.values()]),
        )
        new_size = size + len(leaves)
        await cur.execute(
            "UPDATE tlog_head SET size = %s WHERE period_start = %s", (new_size, period)
        )
    return new_size
