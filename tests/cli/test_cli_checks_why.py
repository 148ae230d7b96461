"""Checks through the CLI (write, audit, publish; `duck check`), freshness around deadlines,
and the `why` property: healthy means no blocker, and every blocker is real and unhealthy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from conftest import Duck, catalog_rows, run_count, warehouse_rows
from duck_cli.health.blockers import find_blockers
from duck_cli.health.state import State
from worlds import _name, assessed, worlds


def _duplicate_a_trip(project, day="2026-03-09"):
    path = project / "data" / "trips" / f"{day}.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[1]]) + "\n")


@pytest.mark.materialized
def test_error_check_keeps_previous_data_as_the_current_materialization(duck, project):
    mat_before = catalog_rows(project, "SELECT max(seq) FROM materializations WHERE asset = "
                                       "'stg_trips' AND partition_key = '2026-03-09'")[0][0]
    rows_before = warehouse_rows(project, "SELECT count(*) FROM stg_trips WHERE trip_date = "
                                          "'2026-03-09'")[0][0]
    _duplicate_a_trip(project)
    duck("materialize", expect=1)
    assert warehouse_rows(project, "SELECT count(*) FROM stg_trips WHERE trip_date = "
                                   "'2026-03-09'")[0][0] == rows_before
    assert catalog_rows(project, "SELECT max(seq) FROM materializations WHERE asset = "
                                 "'stg_trips' AND partition_key = '2026-03-09'")[0][0] == mat_before
    failed = catalog_rows(project, "SELECT check_name, passed, failing, sample FROM "
                                   "check_results WHERE run_id = 'r00002' AND NOT passed")
    assert [(f[0], f[1], f[2]) for f in failed] == [("one_row_per_trip", False, 1)]
    assert "trip_id" in failed[0][3]  # the failing-row sample is recorded


def test_warn_check_publishes_and_is_reported(duck, project):
    path = project / "data" / "trips" / "2026-03-04.csv"
    lines = path.read_text().splitlines()
    head, first = lines[0], lines[1].split(",")
    first[-1] = "-9999"  # a refund: zone revenue goes negative, a warn-severity check
    path.write_text("\n".join([head, ",".join(first)] + lines[2:]) + "\n")
    result = duck("materialize")
    assert "revenue_positive" in result.output
    doc = duck.json("status")
    zm = next(a for a in doc["assets"] if a["name"] == "zone_metrics")
    assert zm["state"] == "fresh" and zm["checks"]["warned"] >= 1
    assert zm["checks"]["failing"] == ["revenue_positive"]
    assert duck("status", "--fail-on", "warn", expect=3).exit_code == 3
    assert warehouse_rows(project, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                   "'2026-03-04' AND revenue < 0")[0][0] == 1


@pytest.mark.materialized
def test_duck_check_runs_on_published_data_without_materializing(duck, project):
    runs = run_count(project)
    doc = duck.json("check", "zone_metrics", "--partition", "2026-03-12")
    assert doc["passed"] is True
    assert {r["name"] for r in doc["results"]} == {"has_rows", "one_row_per_zone_day",
                                                   "known_zone", "revenue_positive"}
    assert {r["partition"] for r in doc["results"]} == {"2026-03-12"}
    assert run_count(project) == runs
    recorded = catalog_rows(project, "SELECT count(*) FROM check_results WHERE stage = "
                                     "'published' AND partition_key = '2026-03-12'")[0][0]
    assert recorded == 4
    # corrupt the published table behind duck's back: duck check finds it
    import duckdb

    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"))
    con.execute("INSERT INTO zone_metrics SELECT * FROM zone_metrics WHERE trip_date = "
                "'2026-03-11' LIMIT 1")
    con.close()
    result = duck("check", "zone_metrics", expect=1)
    assert "one_row_per_zone_day" in result.output and "2026-03-11" in result.output


def test_freshness_just_before_and_after_the_deadline(project):
    duck = Duck(project, now="2026-03-12T06:30:00+01:00")
    duck("materialize")  # builds through 2026-03-11
    before = {a["name"]: a for a in duck.json("status", now="2026-03-13T06:59:00+01:00")["assets"]}
    dr = before["daily_revenue"]["freshness"]
    assert dr["state"] == "warn"  # 2026-03-12 is not there, the 07:00 deadline is near
    after = {a["name"]: a for a in duck.json("status", now="2026-03-13T07:01:00+01:00")["assets"]}
    assert after["daily_revenue"]["freshness"]["state"] == "stale"
    assert after["daily_revenue"]["freshness"]["required_key"] == "2026-03-12"
    duck("materialize", now="2026-03-13T07:05:00+01:00")
    late = {a["name"]: a for a in duck.json("status", now="2026-03-13T07:10:00+01:00")["assets"]}
    assert late["daily_revenue"]["freshness"]["state"] == "fresh"


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_why_healthy_means_no_blocker_and_blockers_are_real(world):
    from duck_cli.health.why import why
    from duck_cli.health.assess import Assessment
    from duck_cli.report.documents import why_doc

    n, n_sources = world[:2]
    project, graph, snap, health = assessed(world)
    state = Assessment(project, graph, snap, health)
    found = find_blockers(project, health)
    for i in range(n_sources, n):
        p = health.partition(_name(i), "")
        for b in found.walk(_name(i), [""] if p.state != State.FRESH else []):
            assert b.asset in project.assets  # every blocker named exists and is unhealthy
            assert health.partition(b.asset, b.key).state != State.FRESH
            assert b.reason in health.partition(b.asset, b.key).reasons
        report = why_doc(why(state, _name(i), None, found))
        if p.state == State.FRESH:  # what why calls healthy has nothing holding it back
            assert report["state"] == State.FRESH and report["blockers"] == []
            assert report["root_causes"] == [] and report["next_action"]["action"] == "none"
        else:
            assert report["state"] != State.FRESH and report["next_action"]["action"] != "none"
        for b in report["blockers"]:
            assert health.partition(b["asset"], b["partition"] or "").state != State.FRESH
