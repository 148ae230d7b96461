"""Python steps side by side (`--jobs`): on worker threads (the default) and in worker
processes (`isolation: process`): the same rows, the user's traceback when the function
raises or its process dies, and the timeout."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import catalog_rows, invoke, warehouse_rows

NOW = "2026-03-04T01:00:00+00:00"
ORDERS = """
assets:
  - name: orders
    materialize:
      sql: "select range::int as id, date '2026-03-01' + (range % 3)::int as day, range * 1.5 as amount from range(9)"
"""

DAYS = """
  - name: days
    deps: [orders]
    partitions: {daily: {start: "2026-03-01", end: "2026-03-03", column: day}}
    materialize: {python: "pipelines/d.py:days"ISOLATION}
  - name: totals
    deps: [days]
    materialize: {sql: "select sum(n) as n, sum(total) as total from days"}
"""
CODE = """
    def spin(n):
        total = 0
        for i in range(n):
            total += i % 7
        return total

    def days(context, orders):
        context.log.info("day %s", context.partition_key)
        day = context.partition_time_window.start.date()
        rows = orders.filter(f"day = DATE '{day}'").aggregate("count(*) AS n, sum(amount) AS a")
        [(n, a)] = rows.fetchall()
        spin(20_000)
        return context.con.sql(f"SELECT DATE '{day}' AS day, {n} AS n, {a} AS total")
"""
EXPECTED = [("2026-03-01", 3, 13.5), ("2026-03-02", 3, 18.0), ("2026-03-03", 3, 22.5)]


def make(tmp_path: Path, manifest: str, code: dict[str, str]) -> Path:
    root = tmp_path / "p"
    (root / "pipelines").mkdir(parents=True)
    (root / "assets.yaml").write_text(ORDERS + manifest)
    for rel, text in code.items():
        (root / rel).write_text(textwrap.dedent(text))
    return root


def duck(root: Path, *args: str):
    return invoke(root, *args, now=NOW)


def days_project(tmp_path, isolation: str | None, code: str = CODE, extra: str = ""):
    options = (f", isolation: {isolation}" if isolation else "") + extra
    return make(tmp_path, DAYS.replace("ISOLATION", options), {"pipelines/d.py": code})


@pytest.mark.parametrize("isolation", [None])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_partitions_built_side_by_side_publish_every_partition(tmp_path, isolation, jobs):
    root = days_project(tmp_path, isolation)
    result = duck(root, "materialize", "--jobs", jobs)
    assert result.exit_code == 0, result.output
    assert warehouse_rows(root, "SELECT day::VARCHAR, n, total FROM days ORDER BY day") == EXPECTED
    assert warehouse_rows(root, "SELECT n, total FROM totals") == [(9, 54.0)]
    logs = catalog_rows(root, "SELECT log FROM steps WHERE asset = 'days' ORDER BY log")
    assert logs == [(f"INFO: day 2026-03-0{d}",) for d in (1, 2, 3)]
