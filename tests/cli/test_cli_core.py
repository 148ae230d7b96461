"""End to end on the example project: validate → materialize → status → nothing left to do."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from duck_cli.state.catalog_schema import SCHEMA_VERSION

from conftest import catalog_rows, example_copy, run_count, warehouse_rows

BUILT = ["stg_trips", "zone_metrics", "daily_revenue", "regional_revenue", "revenue_summary"]


def _csv_rows(root: Path, last_day: int = 12) -> int:
    total = 0
    for day in range(1, last_day + 1):
        with open(root / "data" / "trips" / f"2026-03-{day:02d}.csv") as f:
            total += sum(1 for _ in csv.reader(f)) - 1
    return total


def test_validate_example(duck):
    result = duck("validate")
    assert "valid: 9 assets, 1 products" in result.output
    doc = duck.json("validate")
    assert doc["valid"] is True and doc["assets"] == 9


def test_materialize_builds_every_asset_and_records_the_run(duck, project):
    result = duck("materialize")
    assert "succeeded, 0 failed, 0 skipped" in result.output
    # Partitions exist up to the last complete day before 07:30 Amsterdam on 2026-03-13.
    assert warehouse_rows(project, "SELECT count(*) FROM stg_trips")[0][0] == _csv_rows(project)
    days = warehouse_rows(project, "SELECT count(*), min(trip_date), max(trip_date) "
                                   "FROM daily_revenue")[0]
    assert days[0] == 12 and str(days[1]) == "2026-03-01" and str(days[2]) == "2026-03-12"
    regions = warehouse_rows(project, "SELECT DISTINCT region FROM regional_revenue ORDER BY 1")
    assert [r[0] for r in regions] == ["AMER", "APAC", "EMEA"]
    assert warehouse_rows(project, "SELECT count(*) FROM revenue_summary")[0][0] == 7
    runs = catalog_rows(project, "SELECT run_id, status, command FROM runs")
    assert runs == [("r00001", "success", "materialize")]
    mats = dict(catalog_rows(project, "SELECT asset, count(*) FROM materializations "
                                      "WHERE kind = 'materialization' GROUP BY asset"))
    assert mats == {"stg_trips": 12, "zone_metrics": 12, "daily_revenue": 12,
                    "regional_revenue": 3, "revenue_summary": 1, "revenue_forecast": 12,
                    "revenue_chart": 12}
    versions = catalog_rows(project, "SELECT DISTINCT code_version FROM materializations "
                                     "WHERE asset = 'zone_metrics'")
    assert len(versions) == 1 and len(versions[0][0]) == 16
    steps = catalog_rows(project, "SELECT DISTINCT status FROM steps")
    assert steps == [("success",)]


@pytest.mark.materialized
def test_status_after_materialize_is_fresh_and_a_second_run_does_nothing(duck, project):
    before = duck.json("status")
    states = {a["name"]: a["state"] for a in before["assets"]}
    assert set(states.values()) == {"fresh"}, states
    assert before["products"][0]["state"] == "fresh"
    again = duck("materialize")
    assert "Nothing to do" in again.output
    assert duck.json("status")["assets"] == before["assets"]
    assert run_count(project) == 1  # no-op: no run
    plan = duck("plan")
    assert plan.output.strip().splitlines()[0].startswith("Nothing to do")


@pytest.mark.materialized
def test_changed_sql_makes_the_asset_and_its_downstream_stale(duck, project):
    sql = project / "models" / "zone_metrics.sql"
    sql.write_text(sql.read_text().replace("count(*) AS trips", "count(DISTINCT trip_id) AS trips"))
    states = {a["name"]: a["state"] for a in duck.json("status")["assets"]}
    assert states["zone_metrics"] == "stale"
    assert states["daily_revenue"] == "stale"  # its upstream will be rebuilt: it is stale too
    assert states["stg_trips"] == "fresh" and states["raw_trips"] == "fresh"
    zm = next(a for a in duck.json("status")["assets"] if a["name"] == "zone_metrics")
    assert zm["reasons"][0]["code"] == "code_changed"
    plan = duck.json("plan")
    assert [s["asset"] for s in plan["steps"]][:2] == ["zone_metrics", "daily_revenue"]
    assert "stg_trips" not in {s["asset"] for s in plan["steps"]}


@pytest.mark.materialized
def test_formatting_only_sql_change_is_not_a_change(duck, project):
    sql = project / "models" / "zone_metrics.sql"
    sql.write_text("-- reformatted\n" + sql.read_text().replace("GROUP BY", "group   by\n"))
    assert {a["state"] for a in duck.json("status")["assets"]} == {"fresh"}


@pytest.mark.materialized
def test_sql_error_fails_its_step_blocks_downstream_and_keeps_the_old_table(duck, project):
    before = warehouse_rows(project, "SELECT count(*) FROM daily_revenue")[0][0]
    manifest = project / "finance.yaml"
    manifest.write_text(manifest.read_text().replace("sum(trips) AS trips",
                                                     "sum(trips) / 0 AS trips, no_such_col"))
    result = duck("materialize", expect=1)
    assert "daily_revenue" in result.output and "no_such_col" in result.output
    assert "blocked by daily_revenue" in result.output
    doc = duck.json("runs", "show", "r00002")
    statuses = {(s["asset"], s["status"]) for s in doc["steps"]}
    assert ("daily_revenue", "failed") in statuses
    assert ("revenue_summary", "skipped") in statuses
    # The previous daily_revenue is still there and readable.
    assert warehouse_rows(project, "SELECT count(*) FROM daily_revenue")[0][0] == before


def test_independent_branch_goes_on_when_one_asset_fails(duck, project):
    manifest = project / "finance.yaml"
    manifest.write_text(manifest.read_text().replace("FROM zone_metrics\n        WHERE trip_date",
                                                     "FROM zone_metricz\n        WHERE trip_date"))
    duck("materialize", expect=1)
    # regional_revenue does not depend on daily_revenue: it was built.
    assert warehouse_rows(project, "SELECT count(DISTINCT region) FROM regional_revenue")[0][0] == 3
    steps = catalog_rows(project, "SELECT asset, status, blocked_by FROM steps "
                                  "WHERE asset IN ('daily_revenue', 'revenue_summary') "
                                  "ORDER BY seq")
    assert {s[1] for s in steps if s[0] == "daily_revenue"} == {"failed"}
    assert {(s[1], s[2]) for s in steps if s[0] == "revenue_summary"} == {
        ("skipped", "daily_revenue")}


@pytest.mark.materialized
def test_runs_lists_history(duck):
    doc = duck.json("runs")
    assert doc["kind"] == "runs" and doc["runs"][0]["run_id"] == "r00001"
    assert "r00001" in duck("runs").output
    assert "no run 'r9'" in duck("runs", "show", "r9", expect=2).output
    # a source is observed, never built by a run: say so instead of "No runs yet"
    source = " ".join(duck("runs", "--asset", "zones").output.split())
    assert "No runs yet" not in source and "No run builds zones: it is a source" in source
    assert "r00001" in duck("runs", "--asset", "zone_metrics").output


def test_graph_tree_and_selection(duck):
    out = duck("graph", "+daily_revenue").output
    assert "raw_trips" in out and "daily_revenue" in out and "regional_revenue" not in out
    doc = duck.json("graph", "zone_metrics+")
    assert {n["name"] for n in doc["nodes"]} == {"zone_metrics", "daily_revenue",
                                                 "regional_revenue", "revenue_summary",
                                                 "revenue_forecast", "revenue_chart"}


def test_unknown_selection_suggests_a_name(duck):
    result = duck("materialize", "zone_metric", expect=2)
    assert "no asset named 'zone_metric'" in result.output
    assert "Did you mean 'zone_metrics'?" in result.output


def test_installed_duck_runs_the_example_in_a_subprocess(tmp_path):
    dest = tmp_path / "example"
    example_copy(dest)
    duck_bin = Path(sys.executable).parent / "duck"
    env = {**os.environ, "NO_COLOR": "1", "DUCK_NOW": "2026-03-13T07:30:00+01:00"}
    help_out = subprocess.run([str(duck_bin), "--help"], capture_output=True, text=True, env=env)
    assert help_out.returncode == 0 and "materialize" in help_out.stdout
    run = subprocess.run([str(duck_bin), "materialize", "-p", str(dest)], capture_output=True,
                         text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "0 failed" in run.stdout
    # not a terminal: plain one line per step on stderr, no progress bar
    assert "/64] stg_trips 2026-03-01" in run.stderr and "\x1b" not in run.stderr


def test_the_entry_point_builds_the_named_command_and_still_lists_the_others(tmp_path):
    """`duck` builds only the command it is asked for (a fixed-cost saving); a misspelled one,
    --help and a subgroup still see every command."""
    dest = tmp_path / "example"
    example_copy(dest)
    duck_bin = str(Path(sys.executable).parent / "duck")
    env = {**os.environ, "NO_COLOR": "1", "DUCK_NOW": "2026-03-13T07:30:00+01:00"}

    def run(*args):
        return subprocess.run([duck_bin, *args], capture_output=True, text=True, env=env)

    plan = run("--debug", "plan", "-p", str(dest), "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["steps"]
    typo = run("materialise", "-p", str(dest))
    assert typo.returncode == 2 and "Did you mean 'materialize'?" in typo.stderr
    helped = run("--help")
    assert all(c in helped.stdout for c in ("validate", "materialize", "backfill", "runs"))
    runs = run("runs", "-p", str(dest), "--json")
    assert runs.returncode == 0 and json.loads(runs.stdout)["runs"] == []
    assert "show" in run("runs", "--help").stdout


@pytest.mark.local_state
def test_an_older_catalog_is_migrated_in_place_with_a_backup(duck, project):
    import duckdb

    duck("materialize")
    path = project / ".duck" / "catalog.duckdb"
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE steps DROP COLUMN input_seq")
    con.execute("UPDATE duck_meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    doc = duck.json("status")
    assert {a["state"] for a in doc["assets"]} == {"fresh"}
    assert (project / ".duck" / "catalog.duckdb.v1.bak").exists()
    assert catalog_rows(project, "SELECT value FROM duck_meta WHERE key = 'schema_version'"
                        )[0][0] == str(SCHEMA_VERSION)
    assert catalog_rows(project, "SELECT count(*) FROM information_schema.columns WHERE "
                                 "table_name = 'steps' AND column_name = 'input_seq'")[0][0] == 1
    duck("materialize", "--force", "stg_trips")  # and the migrated catalog takes new runs
    assert catalog_rows(project, "SELECT count(input_seq) FROM steps")[0][0] > 0


def test_shell_completion_offers_asset_names_and_partition_keys(project, monkeypatch):
    from duck_cli.cli import complete as completion

    monkeypatch.chdir(project)
    monkeypatch.setenv("DUCK_NOW", "2026-03-13T07:30:00+01:00")
    assert completion.selectors(None, "zone") == ["zone_metrics", "zones"]
    # the shell replaces the whole word, so the graph operator stays in front of the name
    assert completion.selectors(None, "+daily") == ["+daily_revenue"]
    keys = completion.keys(None, "2026-03-1")
    assert keys == ["2026-03-10", "2026-03-11", "2026-03-12"]
    assert completion.keys(None, "AP") == ["APAC"]
