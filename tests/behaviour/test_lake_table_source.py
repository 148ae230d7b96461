"""A table source in the lake: its versions come from its rows' hashes, hashed again only
when the lake's snapshots show a change to the table (`state.lake_tables`). Every kind of
change (insert, delete, update, a new column, the table made again) is seen: the source's
observation is recorded and only the changed days' downstream partitions are rebuilt. Runs
(never skips) where DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import json

from conftest import catalog_rows, invoke
from lakes import lake_rows, lake_write, use_lake

NOW = "2026-03-05T12:00:00+00:00"
DAYS = '{daily: {start: "2026-03-01", end: "2026-03-04", column: day}}'
MANIFEST = f"""assets:
  - name: orders
    kind: source
    source: {{table: orders_raw}}
    partitions: {DAYS}
  - name: daily_total
    deps: [orders]
    partitions: {DAYS}
    materialize:
      strategy: incremental
      sql: "SELECT day, count(*) AS n, sum(amount) AS amount FROM orders_raw
        WHERE day >= $partition_start AND day < $partition_end GROUP BY day"
"""
ALL = ["2026-03-01..2026-03-04"]
MAKE = ("CREATE OR REPLACE TABLE orders_raw AS SELECT range AS id, DATE '2026-03-01' + "
        "CAST(range % 4 AS INTEGER) AS day, range * 1.5 AS amount FROM range(40)")


def _materialize(root, env) -> list[str]:
    """`duck materialize --json`: the days of daily_total it built (as ranges)."""
    out = invoke(root, "materialize", "--json", now=NOW, env=env)
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    return sorted(k for s in doc["steps"] if s["asset"] == "daily_total"
                  for k in s["partitions"])


def _totals(root, env) -> dict:
    return dict(lake_rows(root, env, "SELECT strftime(day, '%Y-%m-%d'), n FROM daily_total"))


def test_every_change_to_a_lake_table_source_is_seen(tmp_path, postgres):
    root = tmp_path / "tables"
    root.mkdir()
    env = use_lake(root, postgres, "lake-data")
    (root / "assets.yaml").write_text(MANIFEST)
    lake_write(root, env, MAKE)
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert _materialize(root, env) == ALL
    assert _totals(root, env) == dict.fromkeys(days, 10)
    assert (root / ".duck" / "cache" / "lake_tables.pickle").exists()
    assert _materialize(root, env) == []  # unchanged: the cached versions, nothing to build
    observed = len(catalog_rows(root, "SELECT * FROM materializations WHERE asset = 'orders'"))
    changes = [("INSERT INTO orders_raw VALUES (100, DATE '2026-03-02', 1.0)", ["2026-03-02"]),
               ("DELETE FROM orders_raw WHERE id = 100", ["2026-03-02"]),
               ("UPDATE orders_raw SET amount = 0 WHERE id = 3", ["2026-03-04"]),
               # each row's hash covers every column: a new one changes every day's version
               ("ALTER TABLE orders_raw ADD COLUMN note VARCHAR", ALL),
               (MAKE.replace("range(40)", "range(44)"), ALL)]
    for sql, rebuilt in changes:
        lake_write(root, env, sql)
        assert _materialize(root, env) == rebuilt, sql
        now_observed = len(catalog_rows(root, "SELECT * FROM materializations "
                                              "WHERE asset = 'orders'"))
        assert now_observed == observed + (4 if rebuilt == ALL else 1), sql  # the new versions recorded
        observed = now_observed
        assert _materialize(root, env) == [], sql  # and seen as unchanged after
    assert _totals(root, env) == dict.fromkeys(days, 11)


def test_a_change_by_another_writer_between_commands_is_seen_without_the_cache(tmp_path,
                                                                            postgres):
    """The cache is only a shortcut: without it (a new machine), the rows are hashed."""
    root = tmp_path / "tables"
    root.mkdir()
    env = use_lake(root, postgres, "lake-data")
    (root / "assets.yaml").write_text(MANIFEST)
    lake_write(root, env, MAKE)
    assert _materialize(root, env) == ALL
    lake_write(root, env, "UPDATE orders_raw SET amount = -1 WHERE day = DATE '2026-03-03'")
    (root / ".duck" / "cache" / "lake_tables.pickle").unlink()
    assert _materialize(root, env) == ["2026-03-03"]
    assert lake_rows(root, env, "SELECT amount FROM daily_total WHERE day = '2026-03-03'") \
        == [(-10,)]
