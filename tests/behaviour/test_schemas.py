"""Per-asset schemas (``schema: marts``), through the real CLI on real DuckDB files: where the
relation lives, qualified and unqualified reads, defaults per folder and in duck.yaml, the
dependency check, moving an asset, and environments that defer to production."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import invoke, warehouse_rows
import pgmode

NOW = "2026-03-14T09:00:00+00:00"

ORDERS = """\
assets:
  - name: raw_orders
    schema: {raw_schema}
    materialize:
      sql: select * from (values (1, 10.0), (2, 20.0), (3, 5.5)) t(order_id, amount)
  - name: orders
    schema: marts
    deps: [raw_orders]
    materialize:
      sql: select order_id, amount * 2 as amount from raw_orders
    checks:
      - {unique: [order_id]}
  - name: big_orders
    deps: [orders]
    materialize:
      sql: |
        select order_id
        from marts.orders
        where amount > 15
  - name: order_count
    deps: [orders]
    materialize:
      sql: select count(*) as n from orders
"""


def _project(root: Path, manifest: str = ORDERS, *, raw_schema: str = "main",
             settings: str = "", folder: str = ".") -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / "orders.yaml").write_text(manifest.replace("{raw_schema}", raw_schema))
    if settings:
        (root / "duck.yaml").write_text(textwrap.dedent(settings))
    if pgmode.enabled():
        pgmode.use_postgres(root)
    return root


def _duck(root: Path, *args: str, code: int = 0, env: dict | None = None):
    result = invoke(root, *args, now=NOW, env=env)
    assert result.exit_code == code, result.output
    return result


def _json(root: Path, *args: str, code: int = 0) -> dict:
    return json.loads(_duck(root, *args, "--json", code=code).stdout)


def _query(root: Path, sql: str) -> list:
    return warehouse_rows(root, sql)


def _query_rw(root: Path, sql: str) -> None:
    warehouse_rows(root, sql, read_only=False)


def _schemas(root: Path) -> set[str]:
    return {r[0] for r in _query(root, "SELECT schema_name FROM duckdb_schemas() WHERE "
                                       "database_name = current_database()")}


def _relations(root: Path) -> set[str]:
    """Every user relation of the warehouse file, as 'schema.name'."""
    return {f"{s}.{n}" for s, n in _query(
        root, "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL SELECT "
              "schema_name, view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary")
        if not s.startswith("_duck")}


def _error(root: Path, sql: str) -> str:
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=True)
    try:
        with pytest.raises(duckdb.CatalogException) as err:
            con.execute(sql)
        return str(err.value)
    finally:
        con.close()


def test_an_asset_in_marts_is_built_there_and_read_qualified_and_not(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    assert _query(root, "SELECT * FROM marts.orders ORDER BY order_id") == [
        (1, 20.0), (2, 40.0), (3, 11.0)]
    assert "orders" in _error(root, "SELECT * FROM main.orders")
    assert _relations(root) == {"main.raw_orders", "marts.orders", "main.big_orders",
                                "main.order_count"}
    # downstream reads it qualified (marts.orders) and unqualified (orders)
    assert _query(root, "SELECT * FROM main.big_orders ORDER BY 1") == [(1,), (2,)]
    assert _query(root, "SELECT * FROM main.order_count") == [(3,)]
    assert {a["name"]: a["state"] for a in _json(root, "status")["assets"]} == dict.fromkeys(
        ("big_orders", "order_count", "orders", "raw_orders"), "fresh")
    # a second plan is empty: nothing claims to be missing from where it lives
    assert _json(root, "plan")["steps"] == []


def test_graph_and_status_give_the_qualified_relation(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    graph = _json(root, "graph")
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert nodes["orders"]["relation"] == "marts.orders"
    assert nodes["big_orders"]["relation"] == "main.big_orders"
    status = _json(root, "status")
    assets = {a["name"]: a for a in status["assets"]}
    assert assets["orders"]["relation"] == "marts.orders"
    assert _json(root, "why", "orders")["relation"] == "marts.orders"


def test_folder_default_and_duck_yaml_default(tmp_path):
    manifest = ORDERS.replace("    schema: marts\n", "").replace("    schema: {raw_schema}\n", "")
    # duck.yaml: everything in analytics, but models/marts/** in marts
    root = _project(tmp_path / "p", manifest.replace("from marts.orders", "from orders"),
                    folder="models/marts",
                    settings="schema: analytics\nschemas: {models/marts: marts}\n")
    (root / "models" / "other.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: elsewhere
            deps: [orders]
            materialize: {sql: select count(*) as n from marts.orders}
        """))
    _duck(root, "materialize")
    assert _relations(root) == {"marts.raw_orders", "marts.orders", "marts.big_orders",
                                "marts.order_count", "analytics.elsewhere"}
    assert _query(root, "SELECT n FROM analytics.elsewhere") == [(3,)]


def test_a_read_in_the_wrong_schema_is_a_validate_error_with_file_and_line(tmp_path):
    manifest = ORDERS.replace("from marts.orders", "from staging.orders")
    root = _project(tmp_path / "p", manifest)
    result = _duck(root, "validate", code=2)
    text = " ".join(result.output.split())
    line = manifest.splitlines().index("        from staging.orders") + 1
    assert f"orders.yaml:{line}" in text
    assert "reads 'staging.orders', but asset 'orders' lives in schema marts" in text
    assert "Read it as marts.orders" in text
    doc = _json(root, "validate", code=2)
    assert any(p["line"] == line and "marts.orders" in (p.get("hint") or "")
               for p in doc["problems"])


def test_main_qualified_read_of_an_asset_in_marts_is_an_error(tmp_path):
    root = _project(tmp_path / "p", ORDERS.replace("from marts.orders", "from main.orders"))
    result = _duck(root, "validate", code=2)
    assert "reads 'main.orders', but asset 'orders' lives in schema marts" in \
        " ".join(result.output.split())


def test_moving_an_asset_replans_it_and_downstream_and_drops_the_old_relation(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    (root / "orders.yaml").write_text(ORDERS.replace("{raw_schema}", "main").replace(
        "    schema: marts\n", "    schema: finance\n").replace("marts.orders", "finance.orders"))
    plan = _json(root, "plan")
    steps = {s["asset"]: s for s in plan["steps"]}
    assert set(steps) == {"orders", "big_orders", "order_count"}
    reasons = " ".join(steps["orders"]["reasons"])
    assert "schema changed marts → finance" in reasons
    with_macro = _project(tmp_path / "q")  # a schema still holding something is kept
    _duck(with_macro, "materialize")
    _query_rw(with_macro, "CREATE MACRO marts.double_it(x) AS x * 2")
    (with_macro / "orders.yaml").write_text((root / "orders.yaml").read_text())
    _duck(with_macro, "materialize")
    assert "marts" in _schemas(with_macro)
    _duck(root, "materialize")
    assert "marts.orders" not in _relations(root)
    assert "marts" not in _schemas(root)  # emptied by the move: dropped with the relation
    assert _query(root, "SELECT count(*) FROM finance.orders") == [(3,)]
    assert _query(root, "SELECT * FROM main.order_count") == [(3,)]
    assert _json(root, "plan")["steps"] == []


def test_an_environment_builds_in_its_schema_and_defers_the_rest(tmp_path):
    root = _project(tmp_path / "p", raw_schema="marts")
    _duck(root, "materialize")
    manifest = root / "orders.yaml"
    manifest.write_text(manifest.read_text().replace("where amount > 15", "where amount > 30"))
    _duck(root, "materialize", "--env", "pr")
    relations = _relations(root)
    # only what changed is built in the environment; orders (in marts) is read from production
    assert "main__pr.big_orders" in relations
    assert not {r for r in relations if r.startswith("marts__pr.")}
    assert _query(root, "SELECT * FROM main__pr.big_orders") == [(2,)]
    assert _query(root, "SELECT * FROM main.big_orders ORDER BY 1") == [(1,), (2,)]
    # now change orders itself: the environment builds it in marts__pr, and big_orders reads
    # the environment's copy through its qualified read marts.orders
    manifest.write_text(manifest.read_text().replace("amount * 2", "amount * 10"))
    _duck(root, "materialize", "--env", "pr")
    assert _query(root, "SELECT * FROM marts__pr.orders ORDER BY 1") == [
        (1, 100.0), (2, 200.0), (3, 55.0)]
    assert _query(root, "SELECT * FROM main__pr.big_orders ORDER BY 1") == [(1,), (2,), (3,)]
    assert "marts__pr.raw_orders" not in _relations(root)  # unchanged upstream: deferred
    assert _query(root, "SELECT * FROM marts.orders ORDER BY 1") == [
        (1, 20.0), (2, 40.0), (3, 11.0)]  # production untouched


def test_env_drop_drops_every_schema_of_the_environment(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    manifest = root / "orders.yaml"
    manifest.write_text(manifest.read_text().replace("amount * 2", "amount * 3"))
    _duck(root, "materialize", "--env", "pr")
    assert {"marts__pr.orders", "main__pr.big_orders"} <= _relations(root)
    listed = {e["name"]: e for e in _json(root, "env", "list")["environments"]}
    assert listed["pr"]["tables"] == 3  # orders in marts__pr, big_orders, order_count
    _duck(root, "env", "drop", "pr")
    assert not {r for r in _relations(root) if "__" in r}
    schemas = {s for (s,) in _query(root, "SELECT schema_name FROM duckdb_schemas() WHERE "
                                          "database_name = current_database()")}
    assert not {s for s in schemas if s.endswith("__pr")}


SOURCES = """\
assets:
  - name: trips
    schema: raw
    source: {path: "data/{date}.csv"}
    partitions: {daily: {start: "2026-03-12", end: "2026-03-13"}}
  - name: trip_days
    schema: marts
    deps: [trips]
    partitions: {daily: {start: "2026-03-12", end: "2026-03-13", column: day}}
    materialize:
      sql: |
        select cast(day as date) as day, count(*) as n, (select count(*) from raw.trips) as seen
        from raw.trips
        where day >= $partition_start and day < $partition_end
        group by all
  - name: all_trips
    deps: [trips]
    materialize: {sql: select count(*) as n from raw.trips}
"""


def test_a_file_source_in_a_schema_is_read_qualified_one_partition_at_a_time(tmp_path):
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    for day, n in (("2026-03-12", 2), ("2026-03-13", 3)):
        (root / "data" / f"{day}.csv").write_text(
            "day,trip\n" + "".join(f"{day},{i}\n" for i in range(n)))
    _project(root, SOURCES)
    # on the 13th only the 12th is due: the step's raw.trips is that day's file, not both
    assert invoke(root, "materialize", now="2026-03-13T09:00:00+00:00").exit_code == 0
    _duck(root, "materialize")
    assert _query(root, "SELECT strftime(day, '%d'), n, seen FROM marts.trip_days ORDER BY 1"
                  ) == [("12", 2, 2), ("13", 3, 3)]
    assert _query(root, "SELECT n FROM main.all_trips") == [(5,)]
    assert _query(root, "SELECT count(*) FROM raw.trips") == [(5,)]  # the whole-source view
    assert "raw.trips" in _relations(root)


def test_a_contract_over_a_qualified_read_is_checked_with_nothing_built(tmp_path):
    manifest = ORDERS.replace('''    checks:
      - {unique: [order_id]}
''', '''    columns:
      - {name: order_id, type: INTEGER}
      - {name: amount, type: "DECIMAL(4, 1)"}
''').replace('''  - name: big_orders
    deps: [orders]
''', '''  - name: big_orders
    deps: [orders]
    columns: [{name: order_id, type: VARCHAR}]
''')
    root = _project(tmp_path / "p", manifest)
    doc = _json(root, "validate", code=2)
    drift = [p for p in doc["problems"] if p["asset"] == "big_orders"]
    assert "column 'order_id' is INTEGER, declared VARCHAR" in drift[0]["message"]
    assert drift[0]["severity"] == "error"
    assert not (root / ".duck" / "warehouse.duckdb").exists()


def test_the_html_report_names_the_relation(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    _duck(root, "report", "--html", str(tmp_path / "site"))
    page = (tmp_path / "site" / "assets" / "orders.html").read_text()
    assert "<code>marts.orders</code>" in page


def test_doctor_finds_a_dropped_table_in_its_schema(tmp_path):
    import duckdb

    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    assert [f["code"] for f in _json(root, "doctor")["findings"]] == ["consistent"]
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"))
    con.execute("DROP TABLE marts.orders")
    con.close()
    lost = [f["message"] for f in _json(root, "doctor")["findings"] if f["code"] == "data_lost"]
    assert lost and "orders" in lost[0] and "big_orders" not in lost[0]
    assert [s["asset"] for s in _json(root, "plan")["steps"]][0] == "orders"


def test_diff_and_promote_of_an_asset_in_marts(tmp_path):
    root = _project(tmp_path / "p")
    _duck(root, "materialize")
    manifest = root / "orders.yaml"
    manifest.write_text(manifest.read_text().replace("amount * 2", "amount * 3"))
    _duck(root, "materialize", "--env", "pr")
    doc = _json(root, "diff", "orders", "--env", "pr")
    (asset,) = doc["assets"]
    assert (asset["base"], asset["env"]) == ("marts.orders", "marts__pr.orders")
    assert asset["rows"] == {"added": 0, "removed": 0, "changed": 3}  # by its unique key
    _duck(root, "promote", "--env", "pr")
    assert _query(root, "SELECT * FROM marts.orders ORDER BY 1") == [
        (1, 30.0), (2, 60.0), (3, 16.5)]
    assert _query(root, "SELECT * FROM main.big_orders ORDER BY 1") == [(1,), (2,), (3,)]
    assert "orders" in _error(root, "SELECT * FROM main.orders")
    assert _json(root, "plan")["steps"] == []


def test_schema_selects_the_assets_living_in_a_schema(tmp_path):
    root = _project(tmp_path / "p")
    graph = json.loads(_duck(root, "graph", "schema:marts", "--format", "json").stdout)
    assert [(a["name"], a["relation"]) for a in graph["nodes"]] == [("orders", "marts.orders")]
    rest = json.loads(_duck(root, "graph", "schema:m*", "--exclude", "schema:marts",
                            "--format", "json").stdout)
    assert {a["name"] for a in rest["nodes"]} == {"raw_orders", "big_orders", "order_count"}
    assert [s["asset"] for s in json.loads(_duck(
        root, "plan", "schema:main,+orders", "--json").stdout)["steps"]] == ["raw_orders"]
    missing = _duck(root, "plan", "schema:finance", code=2)
    assert "selector 'schema:finance' matches no asset" in missing.output


def test_plan_steps_name_the_relation_they_write(tmp_path):
    root = _project(tmp_path / "p")
    steps = json.loads(_duck(root, "plan", "--json").stdout)["steps"]
    assert {s["asset"]: s["relation"] for s in steps} == {
        "raw_orders": "main.raw_orders", "orders": "marts.orders",
        "big_orders": "main.big_orders", "order_count": "main.order_count"}
    _duck(root, "materialize")
    (root / "orders.yaml").write_text((root / "orders.yaml").read_text().replace(
        "amount * 2 as amount", "amount * 3 as amount"))
    steps = json.loads(_duck(root, "plan", "--env", "pr-7", "--json").stdout)["steps"]
    assert {s["asset"]: s["relation"] for s in steps} == {
        "orders": "marts__pr_7.orders", "big_orders": "main__pr_7.big_orders",
        "order_count": "main__pr_7.order_count"}
