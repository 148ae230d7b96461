"""Steps side by side (`jobs`): the same tables and records as one at a time, in a safe order.

Real projects in temporary folders, real DuckDB files, the real CLI (and a subprocess where the
process environment matters).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Duck, catalog_rows, warehouse_rows
from duck_cli.plan.builder import Plan, Step
from duck_cli.plan.steps import step_dependencies
from duck_cli.manifest.load import load_project

NOW = "2026-06-01T00:00:00Z"

# a diamond with a side branch: seed -> (lhs, rhs) -> joined; seed -> lonely
DAG = """
assets:
  - name: seed
    owner: team:t
    materialize:
      strategy: table
      sql: SELECT range AS k, range * 3 AS v FROM range(2000)
  - name: lhs
    owner: team:t
    deps: [seed]
    materialize: {strategy: table, sql: "SELECT k, v + 1 AS v FROM seed WHERE k % 2 = 0"}
  - name: rhs
    owner: team:t
    deps: [seed]
    materialize: {strategy: table, sql: "SELECT k, v * 2 AS v FROM seed WHERE k % 3 = 0"}
  - name: joined
    owner: team:t
    deps: [lhs, rhs]
    materialize:
      strategy: table
      sql: SELECT l.k, l.v + r.v AS v FROM lhs AS l JOIN rhs AS r USING (k)
  - name: lonely
    owner: team:t
    deps: [seed]
    materialize: {strategy: table, sql: "SELECT count(*) AS n, sum(v) AS v FROM seed"}
"""

DAILY = """
assets:
  - name: events
    owner: team:t
    materialize:
      strategy: table
      sql: >-
        SELECT DATE '2026-01-01' + (range % 40)::INTEGER AS day, range % 7 AS cat, range AS amount
        FROM range(20000)
  - name: daily
    owner: team:t
    deps: [events]
    partitions: {daily: {start: "2026-01-01", end: "2026-02-09", column: day}}
    materialize:
      strategy: incremental
      sql: |
        SELECT day, cat, count(*) AS n, sum(amount) AS amount FROM events
        WHERE day >= $partition_start AND day < $partition_end GROUP BY day, cat
"""


def _project(tmp_path: Path, name: str, manifest: str, jobs: int) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "assets.yaml").write_text(manifest)
    (root / "duck.yaml").write_text(f"jobs: {jobs}\n")
    return root


def _tables(root: Path, names: list[str]) -> dict[str, list]:
    return {n: warehouse_rows(root, f"SELECT * FROM {n} ORDER BY ALL") for n in names}


def test_side_by_side_builds_the_same_tables_and_records_as_one_at_a_time(tmp_path):
    one = _project(tmp_path, "one", DAG, jobs=1)
    four = _project(tmp_path, "four", DAG, jobs=4)
    for root in (one, four):
        Duck(root, now=NOW)("materialize")
    names = ["seed", "lhs", "rhs", "joined", "lonely"]
    assert _tables(one, names) == _tables(four, names)
    assert len(_tables(four, ["joined"])["joined"]) == 334  # k divisible by 6 below 2000
    for root in (one, four):
        seqs = catalog_rows(root, "SELECT seq, asset FROM materializations "
                                  "WHERE kind = 'materialization' ORDER BY seq")
        assert [s for s, _ in seqs] == list(range(seqs[0][0], seqs[0][0] + 5))
        order = [a for _, a in seqs]
        # the ledger order is a build order: every asset after what it reads
        assert order.index("seed") < min(order.index(n) for n in ("lhs", "rhs", "lonely"))
        assert order.index("joined") > max(order.index("lhs"), order.index("rhs"))
        steps = catalog_rows(root, "SELECT asset, status FROM steps ORDER BY seq")
        assert sorted(steps) == sorted((n, "success") for n in names)
    status = Duck(four, now=NOW).json("status")
    assert status["summary"]["fresh"] == 5


def test_a_failing_branch_skips_its_readers_and_the_other_branch_still_builds(tmp_path):
    broken = DAG.replace("SELECT k, v * 2 AS v FROM seed WHERE k % 3 = 0",
                         "SELECT k, CAST('x' || v AS INTEGER) AS v FROM seed")
    root = _project(tmp_path, "broken", broken, jobs=4)
    result = Duck(root, now=NOW)("materialize", "--json", expect=1)
    import json

    doc = json.loads(result.stdout)
    by_asset = {s["asset"]: s["status"] for s in doc["steps"]}
    assert by_asset == {"seed": "success", "lhs": "success", "rhs": "failed",
                        "joined": "skipped", "lonely": "success"}
    assert [s["asset"] for s in doc["steps"]] == ["seed", "lhs", "lonely", "rhs", "joined"]
    skipped = next(s for s in doc["steps"] if s["asset"] == "joined")
    assert "rhs" in skipped["error"]
    assert warehouse_rows(root, "SELECT count(*) FROM lonely") == [(1,)]
    assert warehouse_rows(root, "SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name IN ('rhs', 'joined')") == [(0,)]


def test_partition_slices_side_by_side_build_the_same_table(tmp_path):
    one = _project(tmp_path, "one", DAILY, jobs=1)
    two = _project(tmp_path, "two", DAILY, jobs=2)
    for root in (one, two):
        Duck(root, now=NOW)("materialize", "events")
        Duck(root, now=NOW)("backfill", "daily", "--from", "2026-01-01", "--to", "2026-02-09",
                            "--batch-size", "1")
    assert _tables(one, ["daily"]) == _tables(two, ["daily"])
    assert warehouse_rows(two, "SELECT count(DISTINCT day), sum(n) FROM daily") == [(40, 20000)]
    mats = catalog_rows(two, "SELECT partition_key, row_count FROM materializations "
                             "WHERE asset = 'daily' ORDER BY partition_key")
    assert len(mats) == 40 and all(rows == 7 for _key, rows in mats)
    # a rebuild of a few slices side by side leaves the others' rows and records alone
    before = catalog_rows(two, "SELECT partition_key, seq FROM materializations "
                               "WHERE asset = 'daily' AND partition_key < '2026-01-10'")
    Duck(two, now=NOW)("backfill", "daily", "--from", "2026-01-20", "--to", "2026-01-29",
                       "--batch-size", "1")
    assert catalog_rows(two, "SELECT partition_key, seq FROM materializations WHERE asset = "
                             "'daily' AND partition_key < '2026-01-10'") == before
    assert _tables(one, ["daily"]) == _tables(two, ["daily"])


def _steps(*specs: tuple[str, int]) -> Plan:
    steps = tuple(Step(i, asset, (f"k{i}",), ("r",), ("c",), ()) for i, (asset, _n)
                  in enumerate(specs))
    return Plan("materialize", steps)


def test_steps_wait_for_what_they_read_even_through_a_view_not_rebuilt(tmp_path):
    root = tmp_path / "views"
    root.mkdir()
    (root / "assets.yaml").write_text("""
assets:
  - name: base
    owner: team:t
    materialize: {strategy: table, sql: "SELECT 1 AS x"}
  - name: shown
    owner: team:t
    deps: [base]
    materialize: {strategy: view, sql: "SELECT x FROM base"}
  - name: top
    owner: team:t
    deps: [shown]
    materialize: {strategy: table, sql: "SELECT x + 1 AS x FROM shown"}
  - name: other
    owner: team:t
    materialize: {strategy: table, sql: "SELECT 2 AS x"}
""")
    project = load_project(root)
    plan = _steps(("base", 0), ("other", 0), ("top", 0))  # `shown` is not rebuilt
    assert step_dependencies(project, plan.steps) == {0: (), 1: (), 2: (0,)}


def test_slices_of_one_asset_wait_only_for_its_first_step(tmp_path):
    root = _project(tmp_path, "daily", DAILY, jobs=2)
    project = load_project(root)
    plan = _steps(("events", 0), ("daily", 0), ("daily", 0), ("daily", 0))
    one_by_one = step_dependencies(project, plan.steps, lambda name: False)
    assert one_by_one == {0: (), 1: (0,), 2: (0, 1), 3: (0, 2)}
    assert step_dependencies(project, plan.steps, lambda name: name == "daily") == {
        0: (), 1: (0,), 2: (0, 1), 3: (0, 1)}
    # the plan decides by itself: `daily` is incremental without checks, so its slices may
    # run side by side
    assert step_dependencies(project, plan.steps) == {0: (), 1: (0,), 2: (0, 1), 3: (0, 1)}


def test_a_long_run_lists_only_the_steps_that_need_attention(tmp_path):
    assets = "\n".join(
        f"  - name: a{i:02d}\n    owner: team:t\n    materialize: "
        f"{{strategy: table, sql: \"SELECT {i} AS x\"}}" for i in range(55))
    bad = ("  - name: zz_bad\n    owner: team:t\n    materialize: "
           "{strategy: table, sql: \"SELECT CAST('x' AS INTEGER) AS x\"}")
    root = _project(tmp_path, "long", "assets:\n" + assets + "\n" + bad + "\n", jobs=2)
    out = Duck(root, now=NOW)("materialize", expect=1).stdout
    assert "zz_bad" in out and "failed" in out
    assert "a07" not in out
    assert "55 more step(s) succeeded with every check passing" in out
    assert "duck runs show r00001" in out
    shown = Duck(root, now=NOW)("runs", "show", "r00001").stdout
    assert "a07" in shown and "zz_bad" in shown


def test_worker_connections_use_utc_whatever_the_machine_zone(tmp_path):
    """Each worker has its own DuckDB connection; it must see the same session settings."""
    two = """
assets:
""" + "".join(f"""  - name: t{i}
    owner: team:t
    materialize:
      strategy: table
      sql: "SELECT current_setting('TimeZone') AS tz, strftime(TIMESTAMPTZ '2026-01-01 00:30:00+00', '%H:%M') AS hm"
""" for i in range(4))
    root = _project(tmp_path, "tz", two, jobs=4)
    env = {**os.environ, "TZ": "America/New_York", "DUCK_NOW": NOW, "NO_COLOR": "1"}
    duck = Path(sys.executable).parent / "duck"
    proc = subprocess.run([str(duck), "materialize", "-p", str(root)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for i in range(4):
        assert warehouse_rows(root, f"SELECT tz, hm FROM t{i}") == [("UTC", "00:30")]


@pytest.mark.parametrize("flag, expected", [(["--jobs", "1"], 1), (["-j", "3"], 3)])
def test_jobs_flag_overrides_the_setting(tmp_path, flag, expected, monkeypatch):
    from duck_cli.run import runner

    seen = []
    real = runner.Runner.run_concurrently

    def spy(self, jobs):  # records the worker count the real runner is given
        seen.append(jobs)
        return real(self, jobs)

    monkeypatch.setattr(runner.Runner, "run_concurrently", spy)
    root = _project(tmp_path, "flag", DAG, jobs=2)
    Duck(root, now=NOW)("materialize", *flag)
    assert seen == ([] if expected == 1 else [expected])
    assert warehouse_rows(root, "SELECT count(*) FROM joined") == [(334,)]


WIDE = "assets:\n" + "".join(
    f"  - name: w{i:02d}\n    owner: team:t\n    materialize: "
    f"{{strategy: table, sql: \"SELECT {i} AS x, range AS r FROM range({i + 1})\"}}\n"
    for i in range(12))


def test_simple_steps_share_a_transaction_and_a_bad_one_fails_alone(tmp_path):
    """Twelve independent tables go to two workers in groups (one transaction each); when one
    fails, its group is rolled back and rebuilt step by step, so only the bad one fails."""
    broken = WIDE.replace("SELECT 5 AS x", "SELECT CAST('five' AS INTEGER) AS x")
    root = _project(tmp_path, "wide", broken, jobs=2)
    import json

    doc = json.loads(Duck(root, now=NOW)("materialize", "--json", expect=1).stdout)
    status = {s["asset"]: s["status"] for s in doc["steps"]}
    assert status.pop("w05") == "failed" and set(status.values()) == {"success"}
    assert len(status) == 11
    for i in (0, 4, 6, 11):
        assert warehouse_rows(root, f"SELECT count(*), max(x) FROM w{i:02d}") == [(i + 1, i)]
    ledger = warehouse_rows(root, "SELECT asset, row_count FROM _duck.ledger "
                                  "WHERE kind = 'materialization' ORDER BY asset")
    assert [a for a, _ in ledger] == [f"w{i:02d}" for i in range(12) if i != 5]
    assert dict(ledger)["w11"] == 12
    seqs = catalog_rows(root, "SELECT seq FROM materializations WHERE kind = 'materialization' "
                              "ORDER BY seq")
    assert len(seqs) == 11 and len({s for (s,) in seqs}) == 11


@pytest.mark.parametrize("fault", ["publish:3", "ledger:1", "commit:1", "ledger:2"])
def test_a_kill_inside_a_shared_transaction_publishes_all_of_it_or_none(tmp_path, fault):
    from reliability_check import check_consistency, run_duck

    root = _project(tmp_path, "wide", WIDE, jobs=2)
    killed = run_duck(root, "materialize", now=NOW, DUCK_FAULT=fault)
    assert killed.returncode == 137, killed.stderr
    assert check_consistency(root, synced=False, idle=False) == []
    published = {a for (a,) in warehouse_rows(
        root, "SELECT asset FROM _duck.ledger WHERE kind = 'materialization'")}
    tables = {t for (t,) in warehouse_rows(
        root, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")}
    assert published == tables  # a table exists exactly when its publish was committed
    if fault.startswith("commit"):
        assert len(published) >= 2  # the first group committed before the kill
    else:
        assert len(published) < 12
    after = run_duck(root, "materialize", now=NOW)
    assert after.returncode == 0, after.stderr
    assert check_consistency(root) == []
    for i in range(12):
        assert warehouse_rows(root, f"SELECT count(*) FROM w{i:02d}") == [(i + 1,)]


def test_a_bad_slice_in_a_shared_transaction_fails_alone_and_keeps_its_rows(tmp_path):
    root = _project(tmp_path, "daily", DAILY, jobs=2)
    duck = Duck(root, now=NOW)
    duck("materialize", "events")
    duck("backfill", "daily", "--from", "2026-01-01", "--to", "2026-02-09", "--batch-size", "1")
    before = warehouse_rows(root, "SELECT * FROM daily WHERE day = DATE '2026-01-15' ORDER BY ALL")
    manifest = root / "assets.yaml"
    manifest.write_text(manifest.read_text().replace(
        "count(*) AS n,",
        "count(*) + CAST(CASE WHEN day = DATE '2026-01-15' THEN 'bad' ELSE '0' END AS INTEGER)"
        " AS n,"))
    import json

    doc = json.loads(duck("backfill", "daily", "--from", "2026-01-01", "--to", "2026-02-09",
                          "--batch-size", "1", "--json", expect=1).stdout)
    failed = [s for s in doc["steps"] if s["status"] != "success"]
    assert [(s["partitions"], s["status"]) for s in failed] == [(["2026-01-15"], "failed")]
    assert "bad" in failed[0]["error"]
    assert sum(s["status"] == "success" for s in doc["steps"]) == 39
    assert warehouse_rows(root, "SELECT * FROM daily WHERE day = DATE '2026-01-15' "
                                "ORDER BY ALL") == before
    counts = duck.json("status", "daily")["assets"][0]["partitions"]
    assert (counts["failed"], counts["failed_ranges"]) == (1, ["2026-01-15"])


def test_steps_side_by_side_reuse_one_connection_per_worker(tmp_path, monkeypatch):
    """Twelve independent steps on two workers: two worker connections, each reused for the
    steps its thread takes (a connection per step would repeat its set-up every time)."""
    from duck_cli.state.warehouse import Warehouse

    opened = []
    real = Warehouse.worker

    def counted(self):  # the real worker connection, counted
        opened.append(self)
        return real(self)

    monkeypatch.setattr(Warehouse, "worker", counted)
    root = _project(tmp_path, "wide2", WIDE.replace("strategy: table", "strategy: view"), jobs=2)
    Duck(root, now=NOW)("materialize")
    assert 1 <= len(opened) <= 2, len(opened)
    assert warehouse_rows(root, "SELECT count(*) FROM w11") == [(12,)]


def _backfilled(root: Path, expect: int = 0) -> Path:
    """``events`` built, then all of ``daily`` in batches of 8 days (a new table)."""
    Duck(root, now=NOW)("materialize", "events")
    Duck(root, now=NOW)("backfill", "daily", "--from", "2026-01-01", "--to", "2026-02-09",
                        "--batch-size", "8", expect=expect)
    return root


def test_a_new_tables_slices_do_not_wait_for_its_first(tmp_path, monkeypatch):
    """Side by side, a new incremental table is created empty from its SQL before the steps
    (its columns are those the SQL gives), so its first slice is not staged alone before the
    others: no step stages, and the table, its column types and its records are those of a
    build one step at a time (where the first step stages and creates the table)."""
    from duck_cli.run.build import Builder

    staged = []
    real = Builder.run_staged

    def counted(self, started):  # the real staged build, counted
        staged.append(list(self.keys))
        return real(self, started)

    monkeypatch.setattr(Builder, "run_staged", counted)
    built = {}
    for jobs in (1, 2):
        staged.clear()
        built[jobs] = _backfilled(_project(tmp_path, f"jobs{jobs}", DAILY, jobs=jobs))
        assert staged == ([[f"2026-01-0{d}" for d in range(1, 9)]] if jobs == 1 else []), jobs
    assert _tables(built[1], ["daily"]) == _tables(built[2], ["daily"])
    columns = "SELECT column_name, data_type FROM information_schema.columns WHERE " \
              "table_name = 'daily' ORDER BY ordinal_position"
    assert warehouse_rows(built[2], columns) == warehouse_rows(built[1], columns) == [
        ("day", "DATE"), ("cat", "BIGINT"), ("n", "BIGINT"), ("amount", "HUGEINT")]
    for root in built.values():
        assert catalog_rows(root, "SELECT count(*), sum(row_count) FROM materializations "
                                  "WHERE asset = 'daily'") == [(40, 280)]


def test_a_new_table_that_no_slice_fills_is_not_left_behind(tmp_path):
    """Every slice of a new table fails: the empty table made for them is dropped again, as
    when the first step would have created it (nothing readers could take for a build). One
    bad day in the first batch fails alone; the table keeps every other day."""
    bad = DAILY.replace("sum(amount) AS amount", "sum(amount) + CAST('x' || cat AS INTEGER) "
                        "AS amount")
    root = _backfilled(_project(tmp_path, "bad", bad, jobs=2), expect=1)
    assert warehouse_rows(root, "SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'daily'") == [(0,)]
    assert catalog_rows(root, "SELECT count(*) FROM materializations WHERE asset = 'daily'") \
        == [(0,)]
    one_day = DAILY.replace("sum(amount) AS amount", "sum(amount) + CASE WHEN day = DATE "
                            "'2026-01-02' THEN CAST('x' || cat AS INTEGER) ELSE 0 END AS amount")
    root = _backfilled(_project(tmp_path, "one_day", one_day, jobs=2), expect=1)
    assert warehouse_rows(root, "SELECT count(DISTINCT day), min(day) = DATE '2026-01-01', "
                                "bool_or(day = DATE '2026-01-02') FROM daily") == [(39, True, False)]
    failed = catalog_rows(root, "SELECT partition_key FROM current_attempts WHERE asset = "
                                "'daily' AND status = 'failed'")
    assert failed == [("2026-01-02",)]
