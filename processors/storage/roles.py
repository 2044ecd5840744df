"""PostgreSQL roles per service and their privileges on one schema (applied by every migration run).

The role that runs the migrations owns every table, trigger and function (the *owner*; services
never log in with it). The service roles get exactly what their code needs; append-only tables get
SELECT and INSERT only, so UPDATE, DELETE and TRUNCATE fail on privileges before any trigger runs,
and neither ``ALTER TABLE … DISABLE TRIGGER`` (owner only) nor ``session_replication_role``
(superuser only) is open to them. Login and passwords are the stack's business (``stack/pgroles.py``);
a migration run by a role that may create roles creates missing ones without login (tests, compose).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from processors.exceptions import ConfigurationError

__all__ = ["OWNER_ONLY", "ROLES", "RoleGrants", "apply_grants", "ensure_roles", "erasable_columns"]

# Tables no service role touches (besides the auditor's SELECT on everything): the migration ledger.
OWNER_ONLY: frozenset[str] = frozenset({"schema_migration"})


@dataclass(frozen=True)
class RoleGrants:
    """One service role: table -> privileges, plus the ``datasets`` privileges and functions."""

    name: str
    purpose: str
    tables: tuple[tuple[str, str], ...] = ()
    datasets: str | None = None  # privileges on every dataset table (and its views when SELECT)
    functions: tuple[str, ...] = ()
    sequences: bool = False
    # UPDATE of exactly the personal columns of personal dataset tables (an erasure nulls them;
    # their erasure_guard trigger refuses any other change).
    erasure: bool = False


_LOG_APPEND = (("tlog_leaf", "SELECT, INSERT"), ("tlog_checkpoint", "SELECT, INSERT"),
               ("tlog_head", "SELECT, INSERT, UPDATE"), ("tlog_chain_head", "SELECT, INSERT, UPDATE"))  # fmt: skip

ROLES: tuple[RoleGrants, ...] = (
    RoleGrants(
        "sensegate_sink",
        "the sink service: appends rows, provenance and log leaves; moves its own offsets",
        tables=(
            ("provenance", "SELECT, INSERT"),
            ("ingest_offset", "SELECT, INSERT, UPDATE"),
            ("pi_subject_key", "SELECT, INSERT"),  # a key per new data subject
            ("catalog_entry", "SELECT"),
            ("dataset_retention", "SELECT"),
            *_LOG_APPEND,
        ),
        datasets="SELECT, INSERT",
        functions=(
            "ensure_month_partition(regclass, timestamptz)",
            "drop_expired_partitions(regclass, integer, timestamptz)",
        ),
    ),
    RoleGrants(
        "sensegate_normalize",
        "the normalize service: reads the device registry and profiles; adds device health; "
        "creates the subject keys it seals personal values with",
        tables=(
            ("device", "SELECT"),
            ("pi_subject_key", "SELECT, INSERT"),  # a key per new data subject (sealing)
            ("raw_epoch_key", "SELECT"),  # opens the raw payloads the gateway sealed
            ("catalog_entry", "SELECT"),
            ("device_profile", "SELECT"),
            # Health rows are monitoring counters added per window (INSERT … ON CONFLICT DO UPDATE).
            ("device_health", "SELECT, INSERT, UPDATE"),
        ),
    ),
    RoleGrants(
        "sensegate_reader",
        "share/reader: reads the stored datasets, the catalog and the live subject keys (the share "
        "service opens sealed personal values with them)",
        tables=(("catalog_entry", "SELECT"), ("pi_subject_key", "SELECT")),
        datasets="SELECT",
    ),
    RoleGrants(
        "sensegate_registry",
        "registry/catalog admin CLIs: devices, profiles, catalog, grants, quarantine, corrections, "
        "objection API tokens",
        tables=(
            ("device", "SELECT, INSERT, UPDATE, DELETE"),
            ("quarantine_replay", "SELECT, INSERT"),
            ("catalog_entry", "SELECT, INSERT"),
            # catalog propose/review/apply: signers and their signed, append-only change chain.
            ("catalog_signer", "SELECT, INSERT"),
            ("catalog_change_event", "SELECT, INSERT"),
            ("device_profile", "SELECT, INSERT"),
            ("device_health", "SELECT"),
            ("device_health_day", "SELECT"),
            ("broker_credential", "SELECT, INSERT, UPDATE"),
            ("access_grant", "SELECT, INSERT, UPDATE"),
            ("access_grant_event", "SELECT, INSERT"),
            # erase-subject also removes the personal values of the erased records' corrections
            ("correction", "SELECT, INSERT, UPDATE (new_values)"),
            ("provenance", "SELECT"),
            ("objection_unit_token", "SELECT, INSERT, UPDATE (revoked_at)"),
            # erase-subject: destroys a subject's key (its guard allows nothing else), records
            # the erased rows' commitments and nulls their personal columns.
            ("pi_subject_key", "SELECT, UPDATE (data_key, destroyed_at, legal_basis)"),
            ("pi_erased", "SELECT, INSERT"),
            # ... and marks, then destroys, the raw epoch keys that carried the subject's messages
            ("raw_epoch_key", "SELECT, UPDATE (data_key, destroyed_at, shred_requested_at, legal_basis)"),
            *_LOG_APPEND,
        ),
        datasets="SELECT",
        sequences=True,
        erasure=True,
    ),
    RoleGrants(
        "sensegate_gateway",
        "the gateway: registers the random key of each (device, epoch) it seals raw payloads with",
        tables=(("raw_epoch_key", "SELECT, INSERT"),),
    ),
    RoleGrants(
        "sensegate_monitor",
        "runtime.monitor: the sink's stored offsets, to report its lag",
        tables=(("ingest_offset", "SELECT"),),
    ),
    RoleGrants(
        "sensegate_objections",
        "processors.objections (API and CLI): cases and their signed events, corrections of the "
        "records objected to and their log leaves; reads stored records; checks unit tokens; "
        "releases share keys to grant holders",
        tables=(
            ("objection_case", "SELECT, INSERT"),
            ("objection_event", "SELECT, INSERT"),
            ("correction_publication", "SELECT, INSERT"),
            ("objection_unit_token", "SELECT"),
            ("correction", "SELECT, INSERT"),
            ("provenance", "SELECT"),
            ("catalog_entry", "SELECT"),
            ("pi_subject_key", "SELECT"),  # seals corrected share forms; share keys for grantees
            ("access_grant", "SELECT"),  # who may receive share keys (POST /share-keys)
            *_LOG_APPEND,
        ),
        datasets="SELECT",
    ),
    RoleGrants(
        "sensegate_auditor",
        "auditor: read-only, for provenance verify and proofs",
        tables=(("*", "SELECT"),),
        datasets="SELECT",
    ),
)


def _can_create_roles(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def ensure_roles(conn: psycopg.Connection) -> None:
    """Check every service role exists; create missing ones (NOLOGIN) when allowed to."""
    have = {
        r
        for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'sensegate\\_%'")
    }
    missing = [r.name for r in ROLES if r.name not in have]
    if not missing:
        return
    if not _can_create_roles(conn):
        msg = (
            f"database roles missing: {', '.join(missing)} (the stack creates them: make stack-up)"
        )
        raise ConfigurationError(msg)
    for name in missing:
        try:
            with conn.transaction():  # savepoint: a concurrent migration may create it first
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateObject:
            continue


def _existing(conn: psycopg.Connection, schema: str) -> tuple[set[str], list[str]]:
    tables = {
        r for (r,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition",
            (schema,),
        )
    }  # fmt: skip
    datasets = [
        name for (name,) in conn.execute(
            "SELECT DISTINCT name FROM schema_migration WHERE version LIKE 'dataset:%%'"
        )
    ]  # fmt: skip
    return tables, [d for d in datasets if d in tables]


def erasable_columns(conn: psycopg.Connection, schema: str) -> dict[str, tuple[str, ...]]:
    """Personal dataset tables -> their personal columns, as their erasure_guard triggers name them."""
    rows = conn.execute(
        "SELECT c.relname, t.tgargs FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE n.nspname = %s AND p.proname = 'erasure_guard'",
        (schema,),
    ).fetchall()
    found = {}
    for table, args in rows:
        # tgargs: the arguments NUL-terminated; the first is the dataset code, then the columns.
        parts = bytes(args).decode().split("\x00")
        found[table] = tuple(p for p in parts[1:] if p)
    return found


def _grant_erasure(
    conn: psycopg.Connection, schema: str, table: str, columns: tuple[str, ...], role: sql.Identifier
) -> None:
    target = sql.Identifier(schema, table)
    try:
        with conn.transaction():  # savepoint
            conn.execute(
                sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), target, role
                )
            )
    except psycopg.errors.UndefinedColumn:
        # TimescaleDB passes column grants on to its internal compressed table, which may lack a
        # column: the table-wide grant is the closest, and erasure_guard still refuses any
        # change but nulling the personal columns of a recorded erasure.
        conn.execute(sql.SQL("GRANT UPDATE ON {} TO {}").format(target, role))


def apply_grants(conn: psycopg.Connection, schema: str) -> None:
    """Reset and grant each role's privileges on ``schema`` (inside the migration transaction)."""
    ensure_roles(conn)
    tables, datasets = _existing(conn, schema)
    s = sql.Identifier(schema)
    for role in ROLES:
        r = sql.Identifier(role.name)
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r))
        conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(s, r))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r))
        wanted: dict[str, str] = {}
        for table, privileges in role.tables:
            for name in sorted(tables) if table == "*" else [table]:
                wanted[name] = privileges
        if role.datasets:
            for name in datasets:
                wanted[name] = role.datasets
                if "SELECT" in role.datasets:
                    wanted.update({v: "SELECT" for v in (f"{name}_current", f"{name}_hourly")})
        for name, privileges in sorted(wanted.items()):
            if name in tables:
                conn.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(privileges), sql.Identifier(schema, name), r
                    )
                )
        if role.sequences:
            conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, r))
        if role.erasure:
            for table, columns in sorted(erasable_columns(conn, schema).items()):
                _grant_erasure(conn, schema, table, columns, r)
        for function in role.functions:
            conn.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {}.{} TO {}").format(s, sql.SQL(function), r)
            )
