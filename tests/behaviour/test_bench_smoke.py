"""The benchmark at tiny sizes: duck builds the same tables as raw DuckDB running the same SQL.

Timings are not checked here (bench/run.py measures them); this keeps the generators, the raw
statements and the populate shortcut honest as duck changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate as gen  # noqa: E402
from bench import run  # noqa: E402


@pytest.fixture(scope="module")
def duck_cmd() -> str:
    try:
        return run.duck_bin()
    except SystemExit:
        pytest.skip("the duck command is not installed next to this Python")


def _assert_same(w: gen.Workload, raw_db: Path) -> None:
    assert run.compare_tables(w.warehouse, raw_db, w.tables) == []


def _raw(w: gen.Workload, tmp_path: Path, fn) -> Path:
    db = run.fresh_copy(w.warehouse, tmp_path / "raw.duckdb") if w.warehouse.exists() \
        else tmp_path / "raw.duckdb"
    fn(w, db)
    return db


def test_dag_builds_the_same_tables(tmp_path, duck_cmd):
    w = gen.dag(tmp_path / "dag", assets=12, layers=3, rows=2_000)
    assert len(w.assets) == 12 and {len(a.deps) for a in w.assets[4:]} == {1, 2, 3}
    raw_db = _raw(w, tmp_path, run.raw_dag)
    run.run_duck(["materialize"], w.root, duck=duck_cmd)
    _assert_same(w, raw_db)


@pytest.mark.parametrize("batch", ["1", None])
def test_backfill_builds_the_same_table(tmp_path, duck_cmd, batch):
    w = gen.backfill(tmp_path / "backfill", days=10, rows=2_000)
    raw_db = _raw(w, tmp_path, run.raw_backfill_each if batch else run.raw_backfill_set)
    extra = ["--batch-size", batch] if batch else []
    run.run_duck(["backfill", "daily_cat", "--from", w.first_key, "--to", w.last_key, *extra],
                 w.root, duck=duck_cmd)
    _assert_same(w, raw_db)


def test_wide_builds_the_same_tables_and_populate_matches(tmp_path, duck_cmd):
    built = gen.wide(tmp_path / "built", assets=30)
    raw_db = _raw(built, tmp_path, run.raw_dag)
    run.run_duck(["materialize"], built.root, duck=duck_cmd)
    _assert_same(built, raw_db)

    from bench.populate import publish_all

    populated = gen.wide(tmp_path / "populated", assets=30)
    assert publish_all(populated.root, gen.NOW) == 30
    run.run_duck(["materialize"], populated.root, duck=duck_cmd)
    _assert_same(populated, raw_db)
    plan = _json(duck_cmd, populated.root, "plan")
    assert plan["steps"] == []
    status = _json(duck_cmd, populated.root, "status")
    assert {a["state"] for a in status["assets"]} == {"fresh"}


def test_many_partitions_builds_the_same_table(tmp_path, duck_cmd):
    w = gen.many_partitions(tmp_path / "hourly", partitions=48)
    raw_db = _raw(w, tmp_path, run.raw_many_partitions)
    run.run_duck(["materialize"], w.root, duck=duck_cmd)
    _assert_same(w, raw_db)
    status = _json(duck_cmd, w.root, "status")
    assert status["assets"][0]["partitions"]["fresh"] == 48


def test_results_table_marks_targets(tmp_path):
    fast, slow = run.Sample(0.1, 0.1, 50.0), run.Sample(2.0, 1.0, 400.0)
    res = run.Results("small", 1, rows=[
        run.Row("a", [fast], [run.Sample(0.1, 0.1)], target="1.2x",
                sql_only=[run.Sample(0.05, 0.05)]),
        run.Row("b", [slow], target="1s"),
        run.Row("c", [slow], target="300MB", metric="rss")])
    out = tmp_path / "results.md"
    run.write_markdown(res, out)
    text = out.read_text()
    assert ("| a | 100 ms | 100 ms | 1.00x | <= 1.2x raw | pass | 100 ms | 1.00x | 50 ms | "
            "2.00x | 1 |") in text
    assert "| b | 2.00 s | - | - | <= 1 s | **FAIL** |" in text
    assert "| c | 400 MB |" in text and "CPU:" in text


def test_a_partial_run_replaces_its_own_section_and_keeps_the_rest(tmp_path):
    """`--only` writes its run as a marked section: a second run of the same workloads
    replaces it, a run of others adds its own, and the rest of the file stays word for word."""
    out = tmp_path / "results.md"
    run.write_markdown(run.Results("small", 1, rows=[run.Row("whole", [run.Sample(1.0, 1.0)],
                                                             target="2s")]), out)
    out.write_text(out.read_text() + "\n## Hand-written notes\n\nkept as they are\n")
    before = out.read_text()
    for seconds in (3.0, 0.5):
        run.write_section(run.Results("small", 1, rows=[
            run.Row("validate row", [run.Sample(seconds, seconds)], target="2s")]),
            out, ["validate"])
    run.write_section(run.Results("small", 1, rows=[
        run.Row("fixed row", [run.Sample(0.2, 0.2)], target="0.3s")]), out, ["fixed", "states"])
    text = out.read_text()
    assert text.startswith(before.rstrip("\n"))
    assert text.count("<!-- only:validate:start -->") == 1 and "| validate row | 3.00 s" not in text
    assert "| validate row | 500 ms | - | - | <= 2 s | pass |" in text
    assert "<!-- only:fixed,states:start -->" in text and "| fixed row | 200 ms |" in text
    assert "\n### Machine\n" in text and text.count("\n## Machine\n") == 1


def _json(duck_cmd: str, root: Path, command: str) -> dict:
    run.run_duck([command, "--json"], root, duck=duck_cmd)
    return json.loads((root.parent / "duck-last.log").read_text())


def test_the_raw_process_runs_the_same_statements(tmp_path):
    """bench/raw.py in a new process (the baseline duck is judged against) builds what the
    in-process statements build, date parameters included."""
    w = gen.backfill(tmp_path / "backfill", days=5, rows=1_000)
    in_process = _raw(w, tmp_path, run.raw_backfill_each)
    by_process = run.fresh_copy(w.warehouse, tmp_path / "process.duckdb")
    sample = run.time_raw_process(run.backfill_each_statements(w), by_process,
                                  tmp_path / "raw.json")
    assert sample.seconds > 0 and sample.cpu > 0
    assert run.compare_tables(in_process, by_process, w.tables) == []
    con = duckdb.connect(str(by_process), read_only=True)
    try:
        assert con.execute("SELECT count(DISTINCT day) FROM daily_cat").fetchone()[0] == 5
    finally:
        con.close()


def test_the_report_workload_writes_a_page_per_asset(tmp_path, duck_cmd):
    res = run.Results("small", 1, 30.0, load=[0.0])
    b = run.Bench(tmp_path / "work", {"wide": (12,)}, 1, duck_cmd, res, full_build=12)
    run.bench_report(b)
    assert [r.name for r in res.rows] == [
        "report: `duck report --html` on 12 assets (17 pages)",
        "peak memory: `duck report --html` on 12 assets"]
    site = tmp_path / "work" / "report" / "n12" / "site"
    assert sorted(p.stem for p in (site / "assets").glob("*.html")) == sorted(
        [a.name for a in gen.wide(tmp_path / "again", assets=12).assets] + ["seed"])


def test_w5_file_source_builds_the_same_tables_and_a_day_backfills(tmp_path, duck_cmd):
    """W5 at tiny sizes: duck over daily CSV files builds what one glob read builds, and the
    one-day backfill and its raw counterpart leave the tables identical again."""
    from bench import sources

    root = sources.generate(tmp_path / "w5", files=4, rows_per_file=30)
    assert len(list((root / "data" / "events").glob("*.csv"))) == 4
    run.run_duck(["materialize"], root, duck=duck_cmd)
    raw_db = tmp_path / "raw.duckdb"
    run.time_raw_process(sources.raw_full_statements(root), raw_db, tmp_path / "raw.json")
    assert run.compare_tables(root / gen.WAREHOUSE, raw_db, list(sources.TABLES)) == []
    day = str(sources.first_day(4) + __import__("datetime").timedelta(days=2))
    run.run_duck(["backfill", "events_clean", "events_daily", "--partition", day], root,
                 duck=duck_cmd)
    run.time_raw_process(sources.raw_day_statements(root, day), raw_db, tmp_path / "raw.json")
    assert run.compare_tables(root / gen.WAREHOUSE, raw_db, list(sources.TABLES)) == []
    con = duckdb.connect(str(root / gen.WAREHOUSE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM events_clean").fetchone()[0] == 120
    finally:
        con.close()


def test_check_scope_builds_the_same_table(tmp_path, duck_cmd):
    from bench import check_scope

    w = check_scope.generate(tmp_path / "cs", days=5, rows=500, checks=check_scope.UNIQUE)
    run.run_duck(["backfill", "event_rows", "--from", w.first_key, "--to", "2025-01-04"],
                 w.root, duck=duck_cmd)
    raw_db = run.fresh_copy(w.warehouse, tmp_path / "raw.duckdb")
    from bench import raw
    raw.execute(raw_db, check_scope.raw_statements(w.last_key, whole=True))
    run.run_duck(["materialize", "event_rows", "--partition", w.last_key], w.root, duck=duck_cmd)
    _assert_same(w, raw_db)
    assert duckdb.connect(str(raw_db)).execute("SELECT count(*) FROM event_rows").fetchone()[0] == 500


def _bench(tmp_path, duck_cmd, **scale) -> run.Bench:
    res = run.Results("small", 1, 30.0, load=[0.0])
    return run.Bench(tmp_path / "work", {**run.SCALES["small"], **scale}, 1, duck_cmd, res,
                     full_build=100)


def test_w6_states_give_the_answers_of_each_state(tmp_path, duck_cmd):
    """W6 states at tiny sizes: nothing built is all missing, healthy all fresh, and 10%
    failing fails exactly the broken assets and leaves what reads them missing, blocked."""
    from bench import health

    b = _bench(tmp_path, duck_cmd, states=(20, 40))
    health.bench_states(b)
    names = [r.name for r in b.res.rows]
    for state in health.STATES:
        assert f"states: `duck status` on 40 assets, {state}" in names
    work = tmp_path / "work" / "states"
    by_state = {s: {a["state"] for a in _json(duck_cmd, work / d / "n40", "status")["assets"]
                    if a["name"] != "seed"}  # the source table is there in every state
                for s, d in (("nothing", "nothing"), ("healthy", "healthy"), ("failing", "10"))}
    assert by_state["nothing"] == {"missing"} and by_state["healthy"] == {"fresh"}
    doc = _json(duck_cmd, work / "10" / "n40", "status")
    failed = {a["name"] for a in doc["assets"] if a["state"] == "failed"}
    expected = {a.name for a in health.broken(gen.wide(tmp_path / "again", 40).assets)
                if "no_such_column" in a.sql}
    assert len(expected) == 4 and failed and failed <= expected  # a broken asset below
    blocked = [a for a in doc["assets"] if a["state"] == "missing"]  # another one never ran
    assert expected - failed <= {a["name"] for a in blocked}
    assert blocked and all(a["blockers"] for a in blocked)
    assert len(b.res.growth) == 3 and any("10% failing: 40/20" in n for n in b.res.notes)


def test_w6_history_leaves_every_answer_unchanged(tmp_path, duck_cmd):
    """Generated history is older than what is current: status and plan say the same after."""
    from bench import health

    w = gen.dag(tmp_path / "dag", assets=12, layers=3, rows=2_000)
    run.run_duck(["materialize"], w.root, duck=duck_cmd)
    before = _json(duck_cmd, w.root, "status")
    health.add_history(w.root / ".duck" / "catalog.duckdb", 50, 10, [a.name for a in w.assets])
    after = _json(duck_cmd, w.root, "status")
    assert [a["state"] for a in after["assets"]] == [a["state"] for a in before["assets"]]
    assert _json(duck_cmd, w.root, "plan")["steps"] == []
    con = duckdb.connect(str(w.root / ".duck" / "catalog.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM steps WHERE seq < 0").fetchone()[0] == 500
    finally:
        con.close()
    b = _bench(tmp_path / "b", duck_cmd, dag=(12, 3, 2_000), history=(50, 10))
    health.bench_history(b)
    assert [r.name.split(" on ")[0] for r in b.res.rows] == [
        "history: `duck status`", "history: `duck plan`", "history: `duck materialize`"]


def test_w6_fixed_cost_and_fresh_validate_run(tmp_path, duck_cmd):
    from bench import health

    b = _bench(tmp_path, duck_cmd, dag=(12, 3, 2_000), states=(30,))
    health.bench_fixed(b)
    health.bench_validate(b)
    names = [r.name for r in b.res.rows]
    assert names[0].startswith("fixed cost: no-op `duck materialize` (12-asset DAG)")
    assert b.res.rows[0].raw and names[-1] == (
        "fresh copy: `duck validate` on 30 assets (no validation cache)")


def test_w6_partition_states_give_the_answers_of_each_state(tmp_path, duck_cmd):
    """W6 on one asset of many partitions: nothing built is all missing, healthy all fresh, and
    10% failing fails exactly a tenth of the partitions (every tenth batch) and keeps the rest."""
    from bench import health

    b = _bench(tmp_path, duck_cmd, partitions=(200,))
    health.bench_partition_states(b)
    names = [r.name for r in b.res.rows]
    for state in health.STATES:
        for cmd in ("plan", "status"):
            assert f"states: `duck {cmd}` on 1 asset, 200 partitions, {state}" in names
    work = tmp_path / "work" / "partition_states"
    counts = {d: _json(duck_cmd, work / d / "n200", "status")["assets"][0]["partitions"]
              for d in ("nothing", "healthy", "10")}
    assert (counts["nothing"]["missing"], counts["healthy"]["fresh"]) == (200, 200)
    assert (counts["10"]["failed"], counts["10"]["fresh"]) == (20, 180)
    plan = _json(duck_cmd, work / "10" / "n200", "plan")
    assert sum(len(s["partitions"]) for s in plan["steps"]) == 20


def test_w3_fixed_cost_builds_what_one_statement_builds(tmp_path, duck_cmd):
    from bench import health

    b = _bench(tmp_path, duck_cmd, backfill=(10, 2_000), fixed_backfill=(2_000, 5_000))
    health.bench_fixed_backfill(b)
    assert [(r.name.split(" vs ")[0], r.name.endswith("(state made before)"), r.target)
            for r in b.res.rows] == [
        ("fixed cost: batched backfill of 10 days over 2,000 rows", False, "+0.1s"),
        ("fixed cost: batched backfill of 10 days over 2,000 rows", True, "+0.1s"),
        ("fixed cost: batched backfill of 10 days over 5,000 rows", False, "1.1x")]
    assert all(r.raw for r in b.res.rows)
    assert sum("built the same 1 table(s)" in n for n in b.res.notes) == 3
    # the second variant ran on a catalog `duck doctor` made, and recorded its run there
    kept = tmp_path / "work" / "fixed_backfill" / "duck-kept"
    runs = _json(duck_cmd, kept, "runs")
    assert [r["command"] for r in runs["runs"]] == ["backfill"]


def test_envs_preview_builds_only_the_change_and_promote_copies_it(tmp_path, duck_cmd):
    """bench/envs.py at a tiny size: the preview plans exactly the change and its downstream
    (asserted inside), and after `duck promote` production's tables hold the preview's rows."""
    from bench import envs

    b = _bench(tmp_path, duck_cmd)
    b.work.mkdir(parents=True)
    envs.bench(b)
    con = duckdb.connect(str(tmp_path / "work" / "envs" / "duck" / gen.WAREHOUSE), read_only=True)
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                                       "schema_name = 'main__pr'").fetchall()]
    assert names
    for name in names:
        for a, b_ in (("main", "main__pr"), ("main__pr", "main")):
            assert con.execute(f'SELECT count(*) FROM (FROM {a}."{name}" EXCEPT ALL '
                               f'FROM {b_}."{name}")').fetchone()[0] == 0, name
    assert "promote" in b.res.rows[-1].name and b.res.rows[-1].duck
