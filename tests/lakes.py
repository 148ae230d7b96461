"""A DuckLake for a test: the example project pointed at a new lake (its catalog a new database
on the session's PostgreSQL), and a plain DuckDB client reading it as a consumer would."""

from __future__ import annotations

from pathlib import Path

from servers import need_extension

LAKE_YAML = """
warehouse:
  ducklake: {{catalog: "postgres:dbname={db}", data_path: {data}, retention: "1 second"}}
"""


def _needs_lake() -> None:
    for name in ("ducklake", "postgres"):
        need_extension(name)


def use_lake(project: Path, postgres, data: str, extra: str = "") -> dict:
    """Point the project at a new lake (its catalog a new database); libpq's environment.
    The whole example runs there, its Python forecast and its charts (files) included."""
    _needs_lake()
    db = postgres.create_database("lake")
    (project / "duck.yaml").write_text("threads: 2\n" + LAKE_YAML.format(db=db, data=data)
                                       + extra)
    return postgres.env(db)


def lake_rows(project: Path, env: dict, sql: str, params=None):
    """Query the lake as a consumer: a plain DuckDB with the lake attached read-only."""
    import duckdb

    from duck_cli.state import extensions

    con = duckdb.connect()
    try:
        extensions.load(con, ("ducklake", "postgres"), project / ".duck")
        dsn = " ".join(f"{k}={env['PG' + k.upper()]}" for k in ("host", "port", "user",
                                                                 "password", "database"))
        con.execute(f"ATTACH 'ducklake:postgres:{dsn.replace('database=', 'dbname=')}' AS lake "
                    "(READ_ONLY)")
        con.execute("USE lake")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def lake_write(project: Path, env: dict, *statements: str) -> None:
    """Change the lake as another writer would (an ingestion job): a plain DuckDB with the
    lake attached read-write at the project's data path, each statement its own commit."""
    import duckdb

    from duck_cli.state import extensions
    from duck_cli.state.lake_config import attach_sql, config

    dsn = " ".join(f"{k}={env['PG' + k.upper()]}" for k in ("host", "port", "user", "password"))
    cfg = config({"catalog": "env:LAKE", "data_path": "lake-data"}, project,
                 {"LAKE": f"postgres:{dsn} dbname={env['PGDATABASE']}"})
    con = duckdb.connect()
    try:
        extensions.load(con, ("ducklake", "postgres"), project / ".duck")
        con.execute(attach_sql(cfg, alias="lake"))
        con.execute("USE lake")
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
