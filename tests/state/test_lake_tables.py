"""A lake table source's versions are kept while the lake's snapshots show no change to its
table, and hashed again after any change (`state.lake_tables`), on a real DuckLake (catalog
in PostgreSQL). Runs (never skips) where DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

from pathlib import Path

from lakes import use_lake

from duck_cli.models import Asset, Source
from duck_cli.state.lake_config import ALIAS, attach_sql, config
from duck_cli.state.lake_tables import LakeTables


def _lake(root: Path, env: dict):
    """A DuckDB with the test's lake attached under duck's alias, and another writer's."""
    import duckdb

    from duck_cli.state import extensions

    dsn = " ".join(f"{k}={env['PG' + k.upper()]}" for k in ("host", "port", "user", "password"))
    cfg = config({"catalog": "env:LAKE", "data_path": "lake-data"}, root,
                 {"LAKE": f"postgres:{dsn} dbname={env['PGDATABASE']}"})
    cons = []
    for _ in range(2):
        con = duckdb.connect()
        extensions.load(con, ("ducklake", "postgres"), root / ".duck")
        con.execute(attach_sql(cfg))
        con.execute(f"USE {ALIAS}")
        cons.append(con)
    return cons


def test_versions_are_hashed_again_only_after_a_change(tmp_path, postgres):
    root = tmp_path / "p"
    root.mkdir()
    env = use_lake(root, postgres, "lake-data")
    duck, other = _lake(root, env)
    try:
        other.execute("CREATE TABLE orders AS SELECT range AS id FROM range(5)")
        other.execute("CREATE TABLE unrelated (x INTEGER)")
        asset = Asset("orders", "source", source=Source(table="orders"))
        hashed = []

        def versions() -> dict:
            tables = LakeTables(root / ".duck" / "cache" / "lake_tables.pickle", ALIAS)
            return tables.versions(duck, asset, [""], ("main", "orders"), lambda: hashed.append(
                1) or {"": str(duck.execute("SELECT count(*) FROM orders").fetchone()[0])})

        assert versions() == {"": "5"} and len(hashed) == 1
        assert versions() == {"": "5"} and len(hashed) == 1  # unchanged: not hashed again
        other.execute("INSERT INTO unrelated VALUES (1)")  # another table's change
        assert versions() == {"": "5"} and len(hashed) == 1
        for sql, count in [("INSERT INTO orders VALUES (9)", "6"),
                           ("DELETE FROM orders WHERE id = 9", "5"),
                           ("UPDATE orders SET id = 7 WHERE id = 1", "5"),
                           ("CREATE OR REPLACE TABLE orders AS SELECT 1 AS id", "1")]:
            before = len(hashed)
            other.execute(sql)
            assert versions() == {"": count} and len(hashed) == before + 1, sql
            assert versions() == {"": count} and len(hashed) == before + 1, sql
        # the snapshot that changed the table expired (only a later, unrelated one is left):
        # the lake can no longer show what changed, so the rows are hashed again
        assert versions() == {"": "1"}
        before = len(hashed)
        other.execute("INSERT INTO orders VALUES (3)")
        other.execute("INSERT INTO unrelated VALUES (2)")
        other.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => now())")
        assert versions() == {"": "2"} and len(hashed) == before + 1
    finally:
        duck.close()
        other.close()
