"""Python steps side by side (`--jobs`): on worker threads (the default) and in worker
processes (`isolation: process`): the same rows, the user's traceback when the function
raises or its process dies, and the timeout."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("isolation", [None, "process"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_partitions_built_side_by_side_publish_every_partition(tmp_path, isolation, jobs):
    root = days_project(tmp_path, isolation)
    result = duck(root, "materialize", "--jobs", jobs)
    assert result.exit_code == 0, result.output
    assert warehouse_rows(root, "SELECT day::VARCHAR, n, total FROM days ORDER BY day") == EXPECTED
    assert warehouse_rows(root, "SELECT n, total FROM totals") == [(9, 54.0)]
    logs = catalog_rows(root, "SELECT log FROM steps WHERE asset = 'days' ORDER BY log")
    assert logs == [(f"INFO: day 2026-03-0{d}",) for d in (1, 2, 3)]


RAISES = """
    def helper(day):
        raise ValueError(f"no data for {day}")

    def days(context, orders):
        context.log.warning("checking %s", context.partition_key)
        if context.partition_key == "2026-03-02":
            helper(context.partition_key)
        return context.con.sql(f"SELECT DATE '{context.partition_key}' AS day, 1 AS n, 1.0 AS total")
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_exception_in_a_worker_process_fails_its_step_with_the_users_traceback(tmp_path, jobs):
    root = days_project(tmp_path, "process", RAISES)
    result = duck(root, "materialize", "--jobs", jobs)
    assert result.exit_code == 1
    assert "days raised: ValueError: no data for 2026-03-02" in result.output
    rows = catalog_rows(root, "SELECT partitions, status, error, error_kind, log FROM steps "
                              "WHERE asset = 'days' ORDER BY partitions")
    assert [(r[0], r[1]) for r in rows] == [(["2026-03-01"], "success"), (["2026-03-02"], "failed"),
                                            (["2026-03-03"], "success")]
    error, kind, log = rows[1][2:]
    assert kind == "python" and log == "WARNING: checking 2026-03-02"
    assert 'File "pipelines/d.py", line 3, in helper' in error and "duck_cli" not in error
    assert warehouse_rows(root, "SELECT day::VARCHAR FROM days ORDER BY day") == [
        ("2026-03-01",), ("2026-03-03",)]


CRASHES = """
    import os

    def days(context, orders):
        if context.partition_key == "2026-03-02":
            os._exit(3)  # as a crash in C code would: no exception, no traceback
        return context.con.sql(f"SELECT DATE '{context.partition_key}' AS day, 1 AS n, 1.0 AS total")
"""


def test_a_worker_process_that_dies_fails_only_its_step(tmp_path):
    root = days_project(tmp_path, "process", CRASHES)
    result = duck(root, "materialize", "--jobs", "2")
    assert result.exit_code == 1
    rows = catalog_rows(root, "SELECT partitions, status, error, error_kind FROM steps "
                              "WHERE asset IN ('days', 'totals') ORDER BY seq")
    failed = [r for r in rows if r[1] == "failed"]
    assert len(failed) == 1 and failed[0][0] == ["2026-03-02"] and failed[0][3] == "python"
    assert "days stopped its worker process (exit code 3) before returning" in failed[0][2]
    assert sorted(r[0][0] for r in rows if r[1] == "success") == ["2026-03-01", "2026-03-03"]
    assert [r[1] for r in rows if r[0] == [""]] == ["skipped"]  # totals reads the failed day
    assert warehouse_rows(root, "SELECT count(*) FROM days") == [(2,)]
    again = days_project(tmp_path / "again", "process")  # the next run starts new workers
    assert duck(again, "materialize", "--jobs", "2").exit_code == 0


HANGS = """
    import time

    def days(context, orders):
        if context.partition_key == "2026-03-02":
            while True:
                sum(range(10_000))  # pure Python: no thread could be stopped here promptly
        time.sleep(0.01)
        return context.con.sql(f"SELECT DATE '{context.partition_key}' AS day, 1 AS n, 1.0 AS total")
"""


def test_a_function_past_its_timeout_has_its_worker_process_killed(tmp_path):
    root = days_project(tmp_path, "process", HANGS, extra=", timeout: 2s")
    result = duck(root, "materialize", "--jobs", "2")
    assert result.exit_code == 1
    assert "did not finish within its timeout (2s); its worker process was killed" in result.output
    rows = catalog_rows(root, "SELECT partitions, status, error_kind FROM steps "
                              "WHERE asset = 'days' ORDER BY partitions")
    assert rows == [(["2026-03-01"], "success", None), (["2026-03-02"], "failed", "timeout"),
                    (["2026-03-03"], "success", None)]


def test_isolation_is_refused_on_sql(tmp_path):
    root = make(tmp_path, """
  - name: plain
    materialize: {sql: "select 1 as x", isolation: process}
""", {})
    result = duck(root, "validate")
    assert result.exit_code == 2
    assert "isolation applies to a Python function" in result.output


def test_what_a_worker_process_prints_stays_off_the_json_document(tmp_path):
    code = CODE.replace('context.log.info("day %s", context.partition_key)',
                        'print("debugging", context.partition_key)')
    root = days_project(tmp_path, "process", code)
    result = duck(root, "materialize", "--json")
    assert result.exit_code == 0, result.output
    assert "debugging" not in result.stdout
    assert json.loads(result.stdout)["status"] == "success"
