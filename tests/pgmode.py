"""Running the CLI tests with the state in PostgreSQL: `pytest --state-backend=postgres` (or
DUCK_TEST_STATE=postgres). Every example project a test copies then gets its own database on
the session's PostgreSQL server (tests/pg.py) and `state: {postgres: "dbname=..."}` in its
duck.yaml; the server's address and password reach duck only as libpq's variables (PGHOST,
PGPORT, PGUSER, PGPASSWORD), as in a CI job. `catalog_rows` reads the records there.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

MODE_VARIABLE = "DUCK_TEST_STATE"
_STATE_LINE = re.compile(r"^state: \{postgres: 'dbname=([A-Za-z0-9_]+)'\}$", re.M)


def enabled() -> bool:
    """Whether this test session runs in postgres mode."""
    return os.environ.get(MODE_VARIABLE) == "postgres"


def _admin():
    import psycopg

    return psycopg.connect(dbname="postgres", autocommit=True)  # PG* variables say where


def use_postgres(root: Path, template: str | None = None) -> str:
    """Give the project at ``root`` a new state database (a copy of ``template``'s, if given)
    and name it in duck.yaml; returns the database's name."""
    name = f"duck_{secrets.token_hex(5)}"
    with _admin() as con:
        con.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    settings = root / "duck.yaml"
    text = settings.read_text() if settings.exists() else ""
    text = _STATE_LINE.sub("", text).rstrip("\n")
    settings.write_text((text + "\n" if text else "") + f"state: {{postgres: 'dbname={name}'}}\n")
    return name


def database(root: Path) -> str | None:
    """The state database a project's duck.yaml names (None: local state)."""
    settings = root / "duck.yaml"
    found = _STATE_LINE.search(settings.read_text()) if settings.exists() else None
    return found.group(1) if found else None


def query(name: str, sql: str, params=None) -> list[tuple]:
    """Rows of a query in DuckDB's SQL (as the tests write it for the catalog file) over a copy
    of the state database's tables; a statement that changes something runs in PostgreSQL."""
    if not sql.lstrip().upper().startswith(("SELECT", "WITH", "FROM")):
        import psycopg

        with psycopg.connect(dbname=name, autocommit=True) as con:
            con.execute("SET search_path = duck")
            con.execute(sql.replace("?", "%s"), params or None)
        return []
    con = duckdb_copy(name)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def duckdb_copy(name: str):
    """An in-memory DuckDB holding the state database's records in the local catalog's tables
    (what tests/reliability_check.py reads)."""
    import duckdb
    import psycopg

    from duck_cli.state.catalog_schema import DDL, TABLES

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DDL)
    with psycopg.connect(dbname=name, autocommit=True) as pg:
        for table, source in [(t, t) for t in TABLES] + [("duck_meta", "meta")]:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            rows = pg.execute(f"SELECT {', '.join(cols)} FROM duck.{source}").fetchall()
            if rows:
                select = ", ".join(f"unnest(${i + 1}) AS {c}" for i, c in enumerate(cols))
                con.execute(f"INSERT INTO {table} BY NAME SELECT {select}",
                            [list(c) for c in zip(*rows)])
    return con
