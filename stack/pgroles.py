"""Create the stack's PostgreSQL login roles and database as the bootstrap superuser (idempotent).

Run by ``stack/stack.sh`` after PostgreSQL starts: the owner role (owns the database and, through
the migrations, every object) and one login role per service and operator task, each with the
password from ``STATE/secrets``. Passwords are sent as SCRAM-SHA-256 verifiers, so no plain
password reaches the server or its logs. Table privileges come from the migrations
(``processors.storage.roles``), which the owner runs next.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from processors.storage.roles import ROLES
from stack.credentials import PG_DATABASE, PG_OWNER, Addresses, password

__all__ = ["ensure_database", "scram_verifier"]

_ITERATIONS = 4096


def scram_verifier(secret: str, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677 keys, base64)."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _login_roles() -> dict[str, str]:
    """Role name -> password file suffix."""
    roles = {PG_OWNER: "owner"}
    roles.update({r.name: r.name.removeprefix("sensegate_") for r in ROLES})
    return roles


def ensure_database(state: Path) -> None:
    """Roles with login and current passwords, the database owned by the owner, CONNECT per role."""
    addr = Addresses.from_state(state)
    with psycopg.connect(addr.dsn("bootstrap", "postgres"), autocommit=True) as conn:
        have = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles")}
        for role, suffix in _login_roles().items():
            verb = "ALTER" if role in have else "CREATE"
            conn.execute(
                sql.SQL(
                    "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "NOBYPASSRLS PASSWORD {}"
                ).format(
                    sql.SQL(verb),
                    sql.Identifier(role),
                    sql.Literal(scram_verifier(password(state, f"pg-{suffix}"))),
                )
            )
        db = sql.Identifier(PG_DATABASE)
        owner = sql.Identifier(PG_OWNER)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, owner))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        for role in _login_roles():
            # TEMP: the sink stages rows in temporary tables.
            conn.execute(
                sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                    db, sql.Identifier(role)
                )
            )
    with psycopg.connect(addr.dsn("bootstrap"), autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))


def main(argv: list[str]) -> int:
    """``python -m stack.pgroles STATE``."""
    if len(argv) != 1:
        print("usage: python -m stack.pgroles STATE", file=sys.stderr)
        return 2
    ensure_database(Path(argv[0]))
    print("postgresql: roles and database ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
