"""Per-asset schemas in a DuckLake warehouse (catalog in a real PostgreSQL, data as Parquet in a
folder), through the real CLI; a plain DuckDB client reads the lake as a consumer would. Runs
(never skips) where DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import pytest

from conftest import invoke
from behaviour.test_lake import lake_rows, use_lake
from behaviour.test_schemas import ORDERS, SOURCES

NOW = "2026-03-14T09:00:00+00:00"


def _duck(root, env, *args, code=0, now=NOW):
    result = invoke(root, *args, now=now, env=env)
    assert result.exit_code == code, result.output
    return result


def test_an_asset_in_marts_lives_in_the_lakes_marts_schema(tmp_path, postgres):
    import duckdb

    root = tmp_path / "p"
    root.mkdir()
    (root / "orders.yaml").write_text(ORDERS.replace("{raw_schema}", "main"))
    env = use_lake(root, postgres, "lake-data")
    _duck(root, env, "materialize")
    assert lake_rows(root, env, "SELECT * FROM marts.orders ORDER BY 1") == [
        (1, 20.0), (2, 40.0), (3, 11.0)]
    with pytest.raises(duckdb.CatalogException):
        lake_rows(root, env, "SELECT * FROM main.orders")
    assert lake_rows(root, env, "SELECT * FROM main.big_orders ORDER BY 1") == [(1,), (2,)]
    assert lake_rows(root, env, "SELECT * FROM main.order_count") == [(3,)]
    plan = invoke(root, "plan", "--json", now=NOW, env=env)
    assert '"steps": []' in plan.stdout
    # moved to another schema: rebuilt with its downstream, the old relation dropped
    (root / "orders.yaml").write_text(ORDERS.replace("{raw_schema}", "main").replace(
        "    schema: marts\n", "    schema: finance\n").replace("marts.orders", "finance.orders"))
    assert "schema changed marts → finance" in _duck(root, env, "plan").output
    _duck(root, env, "materialize")
    assert lake_rows(root, env, "SELECT count(*) FROM finance.orders") == [(3,)]
    with pytest.raises(duckdb.CatalogException):
        lake_rows(root, env, "SELECT * FROM marts.orders")


def test_a_file_source_in_a_schema_in_the_lake(tmp_path, postgres):
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    for day, n in (("2026-03-12", 2), ("2026-03-13", 3)):
        (root / "data" / f"{day}.csv").write_text(
            "day,trip\n" + "".join(f"{day},{i}\n" for i in range(n)))
    (root / "sources.yaml").write_text(SOURCES)
    env = use_lake(root, postgres, "lake-data")
    _duck(root, env, "materialize", now="2026-03-13T09:00:00+00:00")
    _duck(root, env, "materialize")
    assert lake_rows(root, env, "SELECT strftime(day, '%d'), n, seen FROM marts.trip_days "
                                "ORDER BY 1") == [("12", 2, 2), ("13", 3, 3)]
    assert lake_rows(root, env, "SELECT n FROM main.all_trips") == [(5,)]
