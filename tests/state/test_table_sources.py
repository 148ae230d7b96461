"""Table sources: a table in the warehouse or in an attached database, versioned by row count
and content hash, observed by read-only commands too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from conftest import Duck, warehouse_rows
from servers import need_extension

MANIFEST = """assets:
  - name: orders
    source: {{table: {table}}}
  - name: order_total
    deps: [orders]
    materialize: {{sql: "SELECT count(*) AS n, sum(amount) AS amount FROM {table}"}}
"""


def project_with(tmp_path: Path, table: str, settings: str = "") -> Path:
    root = tmp_path / "tables"
    root.mkdir()
    (root / "duck.yaml").write_text(settings)
    (root / "assets.yaml").write_text(MANIFEST.format(table=table))
    return root


def with_raw_orders(tmp_path: Path) -> Path:
    """The project over raw.orders, a table of 10 rows already in its warehouse file."""
    root = project_with(tmp_path, "raw.orders")
    (root / ".duck").mkdir()
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.orders AS SELECT range AS id, "
                "range * 2.5 AS amount FROM range(10)")
    con.close()
    return root


def planned(duck: Duck) -> list[str]:
    return [s["asset"] for s in duck.json("plan")["steps"]]


def test_the_first_plan_observes_a_warehouse_table_source(tmp_path):
    root = with_raw_orders(tmp_path)
    duck = Duck(root)
    assert planned(duck) == ["order_total"]  # not held back as "source has not arrived"
    duck("materialize")
    assert warehouse_rows(root, "SELECT n FROM order_total") == [(10,)]
    assert planned(duck) == []


def test_a_table_in_an_attached_sqlite_database(tmp_path):
    need_extension("sqlite")
    root = project_with(tmp_path, "app.orders", "extensions: [sqlite]\n"
                        "attach: {app: {type: sqlite, path: data/app.db}}\n")
    (root / "data").mkdir()
    db = sqlite3.connect(root / "data" / "app.db")
    db.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
    db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i * 1.5) for i in range(5)])
    db.commit()
    duck = Duck(root)
    assert planned(duck) == ["order_total"]
    duck("materialize")
    assert warehouse_rows(root, "SELECT n FROM order_total") == [(5,)]
    assert planned(duck) == []
    db.execute("INSERT INTO orders VALUES (99, 1.0)")
    db.commit()
    db.close()
    assert planned(duck) == ["order_total"]
    duck("materialize")
    assert warehouse_rows(root, "SELECT n FROM order_total") == [(6,)]


def test_read_only_commands_see_a_changed_warehouse_table_through_their_cache(tmp_path):
    """plan and status remember a warehouse table source's version while the warehouse file
    is unchanged (attaching it loads every table's catalog); any write to it shows."""
    root = with_raw_orders(tmp_path)
    wh = root / ".duck" / "warehouse.duckdb"
    duck = Duck(root)
    duck("materialize")
    assert planned(duck) == [] and planned(duck) == []  # the second answered from the cache
    assert (root / ".duck" / "cache" / "tables.pickle").exists()
    con = duckdb.connect(str(wh))
    con.execute("UPDATE raw.orders SET amount = amount + 1 WHERE id = 3")  # same row count
    con.close()
    assert planned(duck) == ["order_total"]
    status = {a["name"]: a["state"] for a in duck.json("status")["assets"]}
    assert status["order_total"] == "stale"
    duck("materialize")
    assert planned(duck) == []


def test_writers_share_the_cache_and_still_see_a_changed_table(tmp_path):
    """A writing command caches what it observed at the stamp it leaves the warehouse file
    with, even after writing it (no one else wrote the file while it held it, and duck writes
    no source table), and the next one reads that; a write to the table (same row count) by
    another process still shows, and is built."""
    from duck_cli.state import table_cache

    root = project_with(tmp_path, "orders")  # read as it is (no view under another name)
    (root / ".duck").mkdir()
    wh = root / ".duck" / "warehouse.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE orders AS SELECT range AS id, range * 2.5 AS amount FROM range(10)")
    con.close()
    duck = Duck(root)
    found = table_cache.stamp(wh)
    duck("materialize")
    cache = root / ".duck" / "cache" / "tables.pickle"
    entry = table_cache.TableVersions(cache).entries["orders"]
    assert table_cache.stamp(wh) != found  # that command wrote the warehouse, and yet
    assert entry[0] == table_cache.stamp(wh) and entry[2] == {"": entry[2][""]}
    for _ in range(2):  # each reads the cache and leaves it at the file's stamp
        assert duck.json("materialize")["steps"] == []
        entry = table_cache.TableVersions(cache).entries["orders"]
        assert entry[0] == table_cache.stamp(wh) and entry[2] == {"": entry[2][""]}
    con = duckdb.connect(str(wh))
    con.execute("UPDATE orders SET amount = amount + 1 WHERE id = 3")  # same row count
    con.close()
    duck("materialize")
    assert warehouse_rows(root, "SELECT n, amount FROM order_total") == [(10, 113.5)]
    assert duck.json("materialize")["steps"] == []


def test_a_no_op_materialize_leaves_the_warehouse_file_untouched(tmp_path):
    """The view a table source is read through (under its asset's name) is created once, not
    again by every writing command: with nothing to do, the warehouse file stays as it was."""
    import hashlib

    root = with_raw_orders(tmp_path)
    duck = Duck(root)
    duck("materialize")
    assert warehouse_rows(root, "SELECT count(*) FROM orders") == [(10,)]
    warehouse = root / ".duck" / "warehouse.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    duck("materialize")
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert planned(duck) == []


PYTHON_WRITER = """assets:
  - name: orders
    source: {table: orders}
  - name: order_total
    deps: [orders]
    materialize: {sql: "SELECT count(*) AS n, sum(amount) AS amount FROM orders"}
  - name: touch
    materialize: {python: "pipelines/t.py:touch"}
"""


def test_after_user_python_code_a_writer_caches_no_table_source_version(tmp_path):
    """A Python asset is given the warehouse connection and may write a source table with it
    (here it adds an order): the writer then caches no version at the stamp it leaves, so the
    next command observes the table again, and sees the new order."""
    root = tmp_path / "py"
    (root / "pipelines").mkdir(parents=True)
    (root / "duck.yaml").write_text("")
    (root / "assets.yaml").write_text(PYTHON_WRITER)
    (root / "pipelines" / "t.py").write_text(
        "def touch(context):\n"
        "    context.con.execute('INSERT INTO orders VALUES (99, 1.0)')\n"
        "    return context.con.sql('SELECT 1 AS touched')\n")
    (root / ".duck").mkdir()
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"))
    con.execute("CREATE TABLE orders AS SELECT range AS id, range * 2.5 AS amount FROM range(10)")
    con.close()
    duck = Duck(root)
    duck("materialize", "order_total")
    assert warehouse_rows(root, "SELECT n FROM order_total") == [(10,)]
    duck("materialize", "touch")  # observes orders (10 rows), then the function adds one
    assert warehouse_rows(root, "SELECT count(*) FROM orders") == [(11,)]
    assert planned(duck) == ["order_total"]
    duck("materialize")
    assert warehouse_rows(root, "SELECT n FROM order_total") == [(11,)]


def test_a_source_reading_a_table_duck_builds_is_observed_again_after_a_build(tmp_path):
    """A table source may read an asset's own table: a writer that rebuilt that table caches
    no version of the source at the stamp it leaves, so the next command sees the new rows."""
    root = tmp_path / "own"
    root.mkdir()
    (root / "duck.yaml").write_text("")
    manifest = ("assets:\n"
                "  - name: a\n    materialize: {sql: \"SELECT range AS v FROM range(N)\"}\n"
                "  - name: src\n    source: {table: a}\n"
                "  - name: b\n    deps: [src]\n"
                "    materialize: {sql: \"SELECT count(*) AS n FROM src\"}\n")
    (root / "assets.yaml").write_text(manifest.replace("N", "3"))
    duck = Duck(root)
    duck("materialize")
    duck("materialize")  # src observed with a's 3 rows: b counts them
    assert warehouse_rows(root, "SELECT n FROM b") == [(3,)]
    (root / "assets.yaml").write_text(manifest.replace("N", "5"))
    duck("materialize")  # rebuilds a; src was observed before that
    duck("materialize")
    assert warehouse_rows(root, "SELECT n FROM b") == [(5,)]
    assert planned(duck) == []
