"""The seed's story, end to end: "the dashboard is stale" becomes a traceable, repairable workflow.

Yesterday's (2026-03-12) delivery renamed a zone mid-day, so zone_metrics for that one day has two
rows for one zone and fails its uniqueness check. At 07:30 Amsterdam the dashboard is stale.
"""

from __future__ import annotations


import pytest

from conftest import Duck, catalog_rows, copy_project, example_copy, warehouse_rows

DAY_BEFORE = "2026-03-12T07:30:00+01:00"
MORNING = "2026-03-13T07:30:00+01:00"


def _rename_a_zone(project):
    day = project / "data" / "trips" / "2026-03-12.csv"
    lines = day.read_text().splitlines()
    extra = [line.replace("Zone 7,", "Zone Seven,") for line in lines[1:] if ",7,Zone 7," in line]
    assert extra
    extra = [f"{90000 + i}," + line.split(",", 1)[1] for i, line in enumerate(extra)]
    day.write_text("\n".join(lines + extra) + "\n")


@pytest.fixture(scope="module")
def told(tmp_path_factory):
    """The story up to 07:30 on the 13th, built once per module (two materializes)."""
    root = example_copy(tmp_path_factory.mktemp("story") / "project")
    duck = Duck(root, now=DAY_BEFORE)
    duck("materialize")  # builds through 2026-03-11
    _rename_a_zone(root)
    duck.now = MORNING
    result = duck("materialize", expect=1)  # the nightly run: 2026-03-12 fails
    assert "one_row_per_zone_day" in result.output
    return root


@pytest.fixture
def project(told, tmp_path):
    """A private copy of the told story (copying is much cheaper than building it again)."""
    return copy_project(told, tmp_path / "project")


@pytest.fixture
def story(project):
    return Duck(project, now=MORNING)


def _mat_runs(root, asset):
    return dict(catalog_rows(root, "SELECT partition_key, run_id FROM materializations WHERE "
                                   "asset = ? QUALIFY row_number() OVER (PARTITION BY "
                                   "partition_key ORDER BY seq DESC) = 1", [asset]))


def test_status_shows_the_dashboard_stale_and_why(story, project):
    doc = story.json("status", expect=None)
    assets = {a["name"]: a for a in doc["assets"]}
    dr = assets["daily_revenue"]
    assert dr["state"] == "missing" and dr["partitions"]["missing_ranges"] == ["2026-03-12"]
    assert dr["freshness"]["state"] == "stale"
    assert dr["blockers"][0]["asset"] == "zone_metrics"
    assert dr["blockers"][0]["partition"] == "2026-03-12"
    assert dr["blockers"][0]["reason"] == "check_failed"
    zm = assets["zone_metrics"]
    assert zm["state"] == "failed" and zm["partitions"]["failed_ranges"] == ["2026-03-12"]
    assert zm["checks"]["failing"] == ["one_row_per_zone_day"]
    assert doc["products"][0]["name"] == "revenue_dashboard"
    assert doc["products"][0]["state"] == "stale"
    assert story("status", "--fail-on", "stale", expect=3).exit_code == 3
    assert story("status", "--fail-on", "failed", expect=3).exit_code == 3


def test_why_names_the_failed_check_and_suggests_backfilling_that_slice(story):
    report = story.json("why", "daily_revenue")
    answers = {q["id"]: q["answer"] for q in report["questions"]}
    assert answers == {"freshness": "yes", "materialization": "yes", "upstream_failure": "yes",
                       "scope": "yes", "action": "repair upstream first"}
    root = report["root_causes"][0]
    assert (root["asset"], root["partition"], root["reason"]) == (
        "zone_metrics", "2026-03-12", "check_failed")
    assert "one_row_per_zone_day" in root["message"]
    assert report["next_action"]["action"] == "backfill_upstream"
    assert report["next_action"]["command"] == (
        "duck backfill zone_metrics --partition 2026-03-12 --downstream")
    text = story("why", "daily_revenue").output
    assert "Root cause" in text and "zone_metrics 2026-03-12" in text
    product = story.json("why", "revenue_dashboard")
    assert product["target_type"] == "product" and product["state"] == "stale"
    assert product["root_causes"][0]["asset"] == "zone_metrics"


def test_other_days_stay_fresh_and_untouched(story, project):
    doc = story.json("status", "daily_revenue", "--partitions")
    states = {p["partition"]: p["state"] for p in doc["assets"][0]["partition_list"]}
    assert states.pop("2026-03-12") == "missing"
    assert set(states.values()) == {"fresh"}
    runs = _mat_runs(project, "zone_metrics")
    assert {runs[k] for k in runs} == {"r00001"}  # 03-12 was never published
    assert warehouse_rows(project, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                   "'2026-03-12'")[0][0] == 0
    recorded = catalog_rows(project, "SELECT passed, observed FROM check_results WHERE "
                                     "check_name = 'one_row_per_zone_day' AND partition_key = "
                                     "'2026-03-12' AND run_id = 'r00002'")
    assert recorded and recorded[0][0] is False


def test_fixing_the_data_and_reconciling_repairs_exactly_that_day(story, project):
    before = {a: _mat_runs(project, a) for a in ("stg_trips", "zone_metrics", "daily_revenue")}
    plan = story.json("reconcile")
    held = [(h["asset"], h["status"]) for h in plan["held"] if h["status"] != "fresh"]
    assert ("zone_metrics", "unfixable") in held  # nothing changed since it failed
    assert not plan["steps"]
    # the dispatch system re-delivers a corrected file for 2026-03-12
    day = project / "data" / "trips" / "2026-03-12.csv"
    day.write_text("\n".join(l for l in day.read_text().splitlines() if "Zone Seven" not in l)
                   + "\n")
    plan = story.json("reconcile")
    steps = [(s["asset"], s["partitions"]) for s in plan["steps"]]
    assert steps[:3] == [("stg_trips", ["2026-03-12"]), ("zone_metrics", ["2026-03-12"]),
                         ("daily_revenue", ["2026-03-12"])]
    assert {a for a, _p in steps} <= {"stg_trips", "zone_metrics", "daily_revenue",
                                      "regional_revenue", "revenue_summary", "revenue_forecast",
                                      "revenue_chart"}
    story("reconcile", "--apply")
    doc = story.json("status", expect=None)
    assert {a["name"]: a["state"] for a in doc["assets"]}["daily_revenue"] == "fresh"
    assert doc["products"][0]["state"] == "fresh"
    for asset, runs in before.items():
        after = _mat_runs(project, asset)
        changed = {k for k in after if after[k] != runs.get(k)}
        assert changed == {"2026-03-12"}, (asset, changed)
