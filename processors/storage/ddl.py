"""Per-dataset DDL generated from the catalog: the table, its rollup and current-state views.

Two paths with the same columns and the same view names, so documented queries run on both:

* TimescaleDB: a hypertable on ``observed_at``, columnstore compression segmented by entity, a
  retention policy of ``retention_days`` and a continuous aggregate ``<table>_hourly``;
* plain PostgreSQL: a table range-partitioned by ``observed_at`` (monthly partitions created ahead
  by the sink, see ``partitions``), retention by dropping whole partitions, ``<table>_hourly`` as a
  view over ``date_bin``.

Statements are idempotent and run with ``search_path`` set to the target schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from processors.catalog import DatasetEntry, Item
from processors.exceptions import ConfigurationError

__all__ = [
    "CORE_COLUMNS",
    "SQL_TYPES",
    "dataset_ddl",
    "ddl_script",
    "erasable_columns",
    "ident",
    "item_columns",
]

SQL_TYPES: dict[str, str] = {
    "double": "double precision",
    "integer": "bigint",
    "text": "text",
    "boolean": "boolean",
}

# Columns every dataset table has, before the catalog items, in table order.
CORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("observed_at", "timestamptz NOT NULL"),
    ("received_at", "timestamptz NOT NULL"),
    ("ingested_at", "timestamptz NOT NULL"),
    ("record_id", "text NOT NULL"),
    ("entity_id", "text NOT NULL"),
    ("natural_key", "text NOT NULL"),
    ("quality", "text[] NOT NULL DEFAULT '{}'"),
    ("location", "jsonb"),
    ("provenance_id", "text NOT NULL REFERENCES provenance (provenance_id)"),
    ("catalog_version", "integer NOT NULL"),
)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def ident(name: str) -> str:
    """Quote a lower-case SQL identifier after checking it is one."""
    if not _IDENT.match(name):
        msg = f"invalid SQL identifier {name!r}"
        raise ConfigurationError(msg)
    return f'"{name}"'


# Per catalog entry, keyed by identity (the sink asks for every row; hashing models is slow).
_ERASABLE: dict[int, tuple[DatasetEntry, tuple[str, ...]]] = {}


def erasable_columns(entry: DatasetEntry) -> tuple[str, ...]:
    """Columns holding personal data, which an erasure nulls (none unless the entry is personal)."""
    hit = _ERASABLE.get(id(entry))
    if hit is None or hit[0] is not entry:  # the strong reference keeps the id unique
        names: tuple[str, ...] = ()
        if "personal" in entry.data_category:
            names = tuple(i.name for i in entry.items if i.sensitivity != "none")
        hit = _ERASABLE[id(entry)] = (entry, ("location", *names) if names else ())
    return hit[1]


def item_columns(entry: DatasetEntry) -> tuple[Item, ...]:
    """The catalog items as table columns, refusing names that clash with the core columns."""
    core = {name for name, _ in CORE_COLUMNS} | {"correction_id", "corrected_at"}
    for item in entry.items:
        if item.name in core:
            msg = f"dataset {entry.code}: item {item.name!r} clashes with a core column"
            raise ConfigurationError(msg)
    return tuple(entry.items)


def _table_ddl(entry: DatasetEntry, partitioned: bool) -> list[str]:
    t = ident(entry.storage_table)
    cols = [f"{ident(n)} {decl}" for n, decl in CORE_COLUMNS]
    cols += [f"{ident(i.name)} {SQL_TYPES[i.type]}" for i in item_columns(entry)]
    cols.append("UNIQUE (record_id, observed_at)")
    tail = " PARTITION BY RANGE (observed_at)" if partitioned else ""
    body = ",\n    ".join(cols)
    stmts = [f"CREATE TABLE IF NOT EXISTS {t} (\n    {body}\n){tail}"]
    # Items added by a later catalog version arrive as new nullable columns.
    stmts += [
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {ident(i.name)} {SQL_TYPES[i.type]}"
        for i in entry.items
    ]
    stmts.append(
        f"CREATE INDEX IF NOT EXISTS {ident(entry.storage_table + '_entity_idx')} "
        f"ON {t} (entity_id, observed_at DESC)"
    )
    stmts.append(
        f"CREATE INDEX IF NOT EXISTS {ident(entry.storage_table + '_ingested_idx')} "
        f"ON {t} (ingested_at)"
    )
    trigger = ident(entry.storage_table + "_append_only")
    stmts.append(f"DROP TRIGGER IF EXISTS {trigger} ON {t}")
    # Personal datasets: the only update allowed is an erasure nulling the personal columns
    # (erasure_guard, migration 0190); the arguments are the dataset code and those columns.
    erasable = erasable_columns(entry)
    guard = (
        "erasure_guard(" + ", ".join(f"'{a}'" for a in (entry.code, *erasable)) + ")"
        if erasable
        else "append_only_guard()"
    )
    stmts.append(
        f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION {guard}"
    )
    return stmts


def _rollup_select(entry: DatasetEntry, bucket_expr: str) -> str:
    aggs = ["count(*) AS n"]
    for item in entry.items:
        if item.type == "double":
            c = ident(item.name)
            aggs += [
                f"avg({c}) AS {ident(item.name + '_avg')}",
                f"min({c}) AS {ident(item.name + '_min')}",
                f"max({c}) AS {ident(item.name + '_max')}",
            ]
    return (
        f"SELECT {bucket_expr} AS bucket, entity_id, {', '.join(aggs)} "  # noqa: S608 - ident()
        f"FROM {ident(entry.storage_table)} GROUP BY 1, entity_id"
    )


def _current_view(entry: DatasetEntry) -> list[str]:
    t = ident(entry.storage_table)
    view = ident(entry.storage_table + "_current")
    core = ", ".join(f"t.{ident(n)}" for n, _ in CORE_COLUMNS)
    items = ", ".join(
        f"CASE WHEN c.correction_id IS NULL THEN t.{ident(i.name)} "
        f"ELSE (c.new_values ->> '{i.name}')::{SQL_TYPES[i.type]} END AS {ident(i.name)}"
        for i in entry.items
    )
    # Identifiers pass ident(); the dataset code matches the catalog's code pattern.
    select = (
        f"SELECT {core}, {items}, c.correction_id, c.created_at AS corrected_at FROM {t} AS t "  # noqa: S608
        "LEFT JOIN LATERAL (SELECT k.correction_id, k.action, k.new_values, k.created_at "
        "FROM correction AS k "
        f"WHERE k.dataset = '{entry.code}' AND k.record_id = t.record_id "
        "AND k.observed_at = t.observed_at "
        "ORDER BY k.created_at DESC, k.correction_id DESC LIMIT 1) AS c ON true "
        "WHERE c.action IS DISTINCT FROM 'erase'"
    )
    return [f"DROP VIEW IF EXISTS {view}", f"CREATE VIEW {view} AS {select}"]


def _timescale_ddl(entry: DatasetEntry, schema: str, compress_after_days: int) -> list[str]:
    qualified = f"{ident(schema)}.{ident(entry.storage_table)}"
    t = ident(entry.storage_table)
    stmts = [
        f"SELECT create_hypertable('{qualified}', 'observed_at', "
        "chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE)",
        f"ALTER TABLE {t} SET (timescaledb.compress, timescaledb.compress_segmentby = 'entity_id', "
        "timescaledb.compress_orderby = 'observed_at DESC')",
        f"SELECT add_compression_policy('{qualified}', INTERVAL '{compress_after_days} days', "
        "if_not_exists => TRUE)",
        f"SELECT remove_retention_policy('{qualified}', if_exists => TRUE)",
        f"SELECT add_retention_policy('{qualified}', INTERVAL '{entry.retention_days} days', "
        "if_not_exists => TRUE)",
    ]
    if entry.hourly_rollup:
        hourly = ident(entry.storage_table + "_hourly")
        stmts += [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {hourly} WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS "
            + _rollup_select(entry, "time_bucket(INTERVAL '1 hour', observed_at)")
            + " WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{ident(schema)}.{hourly}', "
            "start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', "
            "schedule_interval => INTERVAL '30 minutes', if_not_exists => TRUE)",
        ]
    return stmts


def dataset_ddl(
    entry: DatasetEntry, schema: str, *, timescale: bool, compress_after_days: int = 7
) -> list[str]:
    """Idempotent statements that create or extend one dataset's table and views."""
    stmts = _table_ddl(entry, partitioned=not timescale)
    if timescale:
        stmts += _timescale_ddl(entry, schema, compress_after_days)
    elif entry.hourly_rollup:
        hourly = ident(entry.storage_table + "_hourly")
        stmts += [
            f"DROP VIEW IF EXISTS {hourly}",
            f"CREATE VIEW {hourly} AS "
            + _rollup_select(
                entry, "date_bin(INTERVAL '1 hour', observed_at, TIMESTAMPTZ '2000-01-01 00:00Z')"
            ),
        ]
    stmts += _current_view(entry)
    return stmts


def ddl_script(statements: Sequence[str]) -> str:
    """Statements joined as one script (for ``--print-ddl`` and checksums)."""
    return ";\n".join(statements) + ";\n"
