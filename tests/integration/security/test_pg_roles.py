"""PostgreSQL as `make stack-up` runs it: TLS only, one role per service, append-only by privilege."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from processors.catalog import Catalog
from processors.sinks.config import ProvenanceConfig
from processors.storage.roles import OWNER_ONLY, ROLES, erasable_columns
from stack.credentials import Addresses
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses, consumer_env
from tests.integration.provenance.helpers import store


def _dsn(stack: StackAddresses, consumer: str) -> str:
    return consumer_env(stack.state, consumer)["SENSEGATE_DB__DSN"]


def _role_dsn(stack: StackAddresses, role: str) -> str:
    """DSN of ``sensegate_<role>`` with its password from the state folder."""
    return Addresses.from_state(stack.state).dsn(role)


@pytest.fixture
def sink_conn(stack: StackAddresses, pg_schema: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection of the sink role, its search path on the test schema."""
    with psycopg.connect(_dsn(stack, "sink"), autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
        yield conn


def test_plain_tcp_is_refused_and_tls_is_verified(stack: StackAddresses) -> None:
    dsn = _dsn(stack, "auditor")
    assert "sslmode=verify-full" in dsn
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(dsn.replace("sslmode=verify-full", "sslmode=disable"), connect_timeout=5)
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)


def test_no_service_role_is_privileged(stack: StackAddresses) -> None:
    with psycopg.connect(stack.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
            "WHERE rolname LIKE 'sensegate%%' AND rolname <> 'sensegate_bootstrap' ORDER BY 1"
        ).fetchall()
    names = {r[0] for r in rows}
    assert {"sensegate_owner", *(r.name for r in ROLES)} <= names
    assert [r for r in rows if any(r[1:])] == []


async def test_sink_role_stores_through_the_real_sink_path(
    stack: StackAddresses, pg_schema: str, catalog: Catalog, provenance_config: ProvenanceConfig
) -> None:
    # Partitions, staging, offsets, log leaves and checkpoints, all as the sink role.
    result = await store(_dsn(stack, "sink"), pg_schema, catalog, list(soil_records(8)),
                         provenance_config)  # fmt: skip
    assert result.stored == 8


@pytest.mark.parametrize("table", ["agri_soil", "provenance", "tlog_leaf", "tlog_checkpoint"])
async def test_sink_role_cannot_change_or_remove_stored_rows(
    *,
    stack: StackAddresses,
    pg_schema: str,
    catalog: Catalog,
    provenance_config: ProvenanceConfig,
    sink_conn: psycopg.Connection,
    table: str,
) -> None:
    await store(_dsn(stack, "sink"), pg_schema, catalog, list(soil_records(4)), provenance_config)
    t = sql.Identifier(pg_schema, table)
    assert sink_conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone() != (0,)
    attempts = {
        "UPDATE": sql.SQL("UPDATE {} SET period_start = now()" if table.startswith("tlog")
                          else "UPDATE {} SET ingested_at = now()"),
        "DELETE": sql.SQL("DELETE FROM {}"),
        "TRUNCATE": sql.SQL("TRUNCATE {}"),
    }  # fmt: skip
    for statement in attempts.values():
        # Refused by privileges: the append-only trigger is never even reached.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            sink_conn.execute(statement.format(t))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
        sink_conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(t))


def test_sink_role_cannot_switch_triggers_off_for_its_session(sink_conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="session_replication_role"):
        sink_conn.execute("SET session_replication_role = replica")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sink_conn.execute("ALTER ROLE sensegate_sink SET session_replication_role = replica")


def test_sink_role_may_not_run_ddl_nor_shorten_retention(
    stack: StackAddresses, pg_schema: str, sink_conn: psycopg.Connection
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sink_conn.execute("CREATE TABLE sneaky (x int)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sink_conn.execute("UPDATE dataset_retention SET retention_days = 1")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sink_conn.execute("DROP TABLE agri_soil")


@pytest.mark.parametrize(
    ("consumer", "statement"),
    [
        ("normalize", "INSERT INTO device (family, device_id, provider, datasets) "
                      "VALUES ('agri', 'x', 'p', '{agri_soil}')"),
        ("normalize", "SELECT count(*) FROM agri_soil"),
        ("auditor", "DELETE FROM correction"),
        ("auditor", "INSERT INTO tlog_head VALUES (now(), 0)"),
        ("reader", "SELECT count(*) FROM tlog_leaf"),
        ("registry", "UPDATE agri_soil SET battery = 0"),
        ("registry", "DELETE FROM device_profile"),
        ("registry", "UPDATE objection_unit_token SET unit = 'x'"),
        ("normalize", "DELETE FROM device_health"),
        ("normalize", "INSERT INTO device_profile (name, version, family, codec, dataset, "
                      "definition, content_sha256) VALUES ('x', 1, 'agri', 'c', 'd', '{}', 'h')"),
        ("objections", "UPDATE objection_event SET actor = 'x'"),
        ("objections", "DELETE FROM objection_case"),
        ("objections", "INSERT INTO objection_unit_token (token_sha256, unit) VALUES ('h', 'u')"),
        ("objections", "INSERT INTO agri_soil (record_id) VALUES ('x')"),
        ("monitor", "SELECT count(*) FROM device"),
        # Sealing keys: normalize creates them, share reads them; neither may destroy or alter one.
        ("normalize", "UPDATE pi_subject_key SET data_key = NULL, destroyed_at = now()"),
        ("normalize", "DELETE FROM pi_subject_key"),
        ("reader", "INSERT INTO pi_subject_key (dataset, subject_ref, data_key) "
                   "VALUES ('d', 's', '\\x00')"),
        ("reader", "UPDATE pi_subject_key SET data_key = NULL, destroyed_at = now()"),
    ],
)  # fmt: skip
def test_other_roles_stay_in_their_lane(
    stack: StackAddresses, pg_schema: str, consumer: str, statement: str
) -> None:
    with psycopg.connect(_role_dsn(stack, consumer), autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def _tables(conn: psycopg.Connection, schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition",
        (schema,),
    ).fetchall()
    return {r[0] for r in rows}


def test_every_table_has_its_roles(stack: StackAddresses, pg_schema: str) -> None:
    # A table added by a later migration must be placed in processors/storage/roles.py (or
    # declared owner-only): otherwise its service fails in production, not in a superuser test.
    with psycopg.connect(stack.pg_dsn) as conn:
        tables = _tables(conn, pg_schema)
        datasets = {r[0] for r in conn.execute(
            sql.SQL("SELECT name FROM {} WHERE version LIKE 'dataset:%%'").format(
                sql.Identifier(pg_schema, "schema_migration"))
        ).fetchall()}  # fmt: skip
    derived = {f"{d}_{suffix}" for d in datasets for suffix in ("current", "hourly")}
    placed = {t for r in ROLES for t, _ in r.tables if t != "*"}
    unplaced = tables - placed - datasets - derived - OWNER_ONLY
    assert unplaced == set()


def test_no_service_role_may_alter_an_append_only_table(
    stack: StackAddresses, pg_schema: str
) -> None:
    with psycopg.connect(stack.pg_dsn) as conn:
        guarded = {r[0] for r in conn.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND g.tgname LIKE '%%append_only%%'", (pg_schema,)
        ).fetchall()}  # fmt: skip
        assert {"provenance", "correction", "objection_case", "objection_event",
                "device_profile", "catalog_entry", "pi_erased"} <= guarded  # fmt: skip
        erasable = erasable_columns(conn, pg_schema)
        held = conn.execute(
            "SELECT r.rolname, c.relname, p.priv FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN unnest(%s::text[]) AS r(rolname) "
            "CROSS JOIN unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv) "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) "
            "AND (has_table_privilege(r.rolname, c.oid, p.priv) "
            "     OR (p.priv = 'UPDATE' AND has_any_column_privilege(r.rolname, c.oid, 'UPDATE')))",
            ([r.name for r in ROLES], pg_schema, sorted(guarded)),
        ).fetchall()
        erasers = [r.name for r in ROLES if r.erasure]
        # An eraser's UPDATE reaches exactly the personal columns (the trigger does the rest).
        for role in erasers:
            for table, columns in erasable.items():
                cols = {c for (c,) in conn.execute(
                    "SELECT column_name FROM information_schema.column_privileges "
                    "WHERE grantee = %s AND table_schema = %s AND table_name = %s "
                    "AND privilege_type = 'UPDATE'", (role, pg_schema, table),
                ).fetchall()}  # fmt: skip
                assert cols == set(columns), (role, table)
            # ... and on corrections, only new_values (correction_guard lets an erasure remove
            # the personal members of a committed correction, nothing else)
            cols = {c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.column_privileges "
                "WHERE grantee = %s AND table_schema = %s AND table_name = 'correction' "
                "AND privilege_type = 'UPDATE'", (role, pg_schema),
            ).fetchall()}  # fmt: skip
            assert cols == {"new_values"}, role
    erasing = {*erasable, "correction"}
    others = [h for h in held if not (h[0] in erasers and h[1] in erasing and h[2] == "UPDATE")]
    assert others == []
    assert [h for h in held if h[2] == "UPDATE" and h[1] in erasable] != [] or not erasable
