"""Partitions and backfills on the example project and on small mapped projects."""

from __future__ import annotations

import textwrap

import pytest

from conftest import Duck, catalog_rows, warehouse_rows


def _mat_runs(root, asset):
    return dict(catalog_rows(root, "SELECT partition_key, run_id FROM materializations WHERE "
                                   "asset = ? QUALIFY row_number() OVER (PARTITION BY "
                                   "partition_key ORDER BY seq DESC) = 1", [asset]))


def test_missing_source_file_makes_only_that_day_missing(duck, project):
    (project / "data" / "trips" / "2026-03-05.csv").unlink()
    result = duck("materialize")
    assert "raw_trips 2026-03-05" in result.output  # held back, and why
    doc = duck.json("status")
    by_name = {a["name"]: a for a in doc["assets"]}
    for name in ("stg_trips", "zone_metrics", "daily_revenue"):
        parts = by_name[name]["partitions"]
        assert parts["missing"] == 1 and parts["missing_ranges"] == ["2026-03-05"], name
        assert parts["fresh"] == 11
        assert by_name[name]["blockers"][0] == {
            "asset": "raw_trips", "partition": "2026-03-05", "reason": "source_missing",
            "message": "source partition 2026-03-05 has not arrived"}
    assert by_name["raw_trips"]["partitions"]["missing_ranges"] == ["2026-03-05"]
    # regional_revenue reads every day: it builds from what has arrived
    assert by_name["regional_revenue"]["state"] == "fresh"
    days = warehouse_rows(project, "SELECT count(*) FROM daily_revenue")[0][0]
    assert days == 11


@pytest.mark.materialized
def test_backfill_one_partition_touches_only_that_partition(duck, project):
    before_rows = warehouse_rows(project, "SELECT * FROM zone_metrics WHERE trip_date <> "
                                          "DATE '2026-03-07' ORDER BY ALL")
    before_runs = _mat_runs(project, "zone_metrics")
    result = duck("backfill", "zone_metrics", "--partition", "2026-03-07")
    assert "1 succeeded" in result.output
    after_runs = _mat_runs(project, "zone_metrics")
    changed = {k for k in after_runs if after_runs[k] != before_runs[k]}
    assert changed == {"2026-03-07"}
    assert warehouse_rows(project, "SELECT * FROM zone_metrics WHERE trip_date <> "
                                   "DATE '2026-03-07' ORDER BY ALL") == before_rows
    bf = duck.json("backfills")["backfills"][0]
    assert bf["requested"] == {"zone_metrics": ["2026-03-07"]} and bf["status"] == "completed"
    # daily_revenue 2026-03-07 now reads newer upstream data
    status = {a["name"]: a for a in duck.json("status")["assets"]}
    assert status["daily_revenue"]["partitions"]["stale_ranges"] == ["2026-03-07"]


@pytest.mark.materialized
def test_backfill_downstream_rebuilds_the_partitions_that_read_it(duck, project):
    plan = duck.json("backfill", "zone_metrics", "--partition", "2026-03-07", "--downstream",
                     "--dry-run")
    steps = [(s["asset"], s["partitions"]) for s in plan["steps"]]
    # that day downstream, every region (each reads all days), the view over daily_revenue,
    # and the forecasts (and their charts) of that day and the next (it reads the day before)
    assert steps == [("zone_metrics", ["2026-03-07"]), ("daily_revenue", ["2026-03-07"]),
                     ("regional_revenue", ["APAC"]), ("regional_revenue", ["EMEA"]),
                     ("regional_revenue", ["AMER"]), ("revenue_forecast", ["2026-03-07"]),
                     ("revenue_forecast", ["2026-03-08"]), ("revenue_summary", []),
                     ("revenue_chart", ["2026-03-07"]), ("revenue_chart", ["2026-03-08"])]
    assert catalog_rows(project, "SELECT count(*) FROM backfills")[0][0] == 0  # dry run
    duck("backfill", "zone_metrics", "--from", "2026-03-02", "--to", "2026-03-07", "--downstream")
    assert duck.json("backfills")["backfills"][0]["requested"] == {
        "zone_metrics": [f"2026-03-0{d}" for d in range(2, 8)],
        "daily_revenue": [f"2026-03-0{d}" for d in range(2, 8)],
        "regional_revenue": ["APAC", "EMEA", "AMER"], "revenue_summary": [],
        "revenue_forecast": [f"2026-03-0{d}" for d in range(2, 9)],
        "revenue_chart": [f"2026-03-0{d}" for d in range(2, 9)]}
    listed = duck("backfills").output
    assert "zone_metrics: 2026-03-02..2026-03-07" in listed and "revenue_summary" in listed
    assert "2026-03-04" not in listed  # ranges, not every key


@pytest.mark.materialized
def test_failed_partition_keeps_its_rows_and_failed_rebuilds_only_it(duck, project):
    good = warehouse_rows(project, "SELECT * FROM stg_trips WHERE trip_date = '2026-03-09' "
                                   "ORDER BY trip_id")
    day = project / "data" / "trips" / "2026-03-09.csv"
    original = day.read_text()
    lines = original.splitlines()
    day.write_text("\n".join(lines + [lines[1]]) + "\n")  # a duplicated trip: unique check fails
    result = duck("materialize", expect=1)
    assert "one_row_per_trip" in result.output
    assert warehouse_rows(project, "SELECT * FROM stg_trips WHERE trip_date = '2026-03-09' "
                                   "ORDER BY trip_id") == good
    status = {a["name"]: a for a in duck.json("status")["assets"]}
    assert status["stg_trips"]["partitions"]["failed_ranges"] == ["2026-03-09"]
    day.write_text(original)
    before = _mat_runs(project, "stg_trips")
    plan = duck.json("backfill", "stg_trips", "--failed", "--dry-run")
    assert [(s["asset"], s["partitions"]) for s in plan["steps"]] == [("stg_trips",
                                                                       ["2026-03-09"])]
    duck("backfill", "stg_trips", "--failed")
    after = _mat_runs(project, "stg_trips")
    assert {k for k in after if after[k] != before.get(k)} == {"2026-03-09"}


@pytest.mark.materialized
def test_resume_finishes_what_failed(duck, project):
    manifest = project / "finance.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("GROUP BY trip_date", "GROUP BY trip_date HAVING error('upstream feed broken') IS NULL"))
    duck("backfill", "daily_revenue", "--from", "2026-03-02", "--to", "2026-03-04", expect=1)
    bf = duck.json("backfills")["backfills"][0]
    assert bf["status"] == "partial" and bf["requested"] == {
        "daily_revenue": ["2026-03-02", "2026-03-03", "2026-03-04"]}
    manifest.write_text(text)
    result = duck("backfill", "--resume", bf["backfill_id"])
    assert "0 failed" in result.output
    runs = duck.json("backfills")["backfills"][0]["runs"]
    assert [r["status"] for r in runs] == ["failed", "success"]


@pytest.mark.parametrize("key", ["2026-02-30", "APAC'; drop table x; --", "2026-04-01",
                                 "yesterday"])
@pytest.mark.materialized
def test_bad_partition_keys_are_refused(duck, project, key):
    tables = warehouse_rows(project, "SELECT table_name FROM information_schema.tables ORDER BY 1")
    result = duck("backfill", "zone_metrics", "--partition", key, expect=2)
    assert "zone_metrics" in result.output and "Traceback" not in result.output
    assert warehouse_rows(project, "SELECT table_name FROM information_schema.tables "
                                   "ORDER BY 1") == tables


@pytest.mark.materialized
def test_static_partition_backfill_only_that_region(duck, project):
    before = _mat_runs(project, "regional_revenue")
    duck("backfill", "regional_revenue", "--partition", "APAC")
    after = _mat_runs(project, "regional_revenue")
    assert {k for k in after if after[k] != before[k]} == {"APAC"}


def test_status_partitions_table(duck, project):
    (project / "data" / "trips" / "2026-03-11.csv").unlink()
    duck("materialize")
    out = duck("status", "daily_revenue", "--partitions").output
    assert "2026-03-11" in out and "missing" in out
    doc = duck.json("status", "stg_trips", "--partitions")
    rows = {p["partition"]: p["state"] for p in doc["assets"][0]["partition_list"]}
    assert rows["2026-03-11"] == "missing" and rows["2026-03-10"] == "fresh"
    assert duck.json("status")["assets"][2]["partitions"]["missing_ranges"] == ["2026-03-11"]


MAPPED = """
assets:
  - name: events
    kind: source
    source: {path: "events/{date}.csv"}
    partitions: {daily: {start: "2026-01-30", end: "2026-03-02"}}
  - name: daily_events
    deps: [events]
    partitions: {daily: {start: "2026-01-30", end: "2026-03-02", column: day}}
    materialize:
      sql: >
        SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM events
        WHERE CAST(ts AS DATE) >= $partition_start AND CAST(ts AS DATE) < $partition_end
        GROUP BY 1
  - name: monthly_events
    deps: [daily_events]
    partitions: {monthly: {start: "2026-01-01", end: "2026-03-01", column: month}}
    materialize:
      sql: >
        SELECT CAST(date_trunc('month', day) AS DATE) AS month, sum(n) AS n, count(*) AS days,
               min(day) AS first_day, max(day) AS last_day
        FROM daily_events WHERE day >= $partition_start AND day < $partition_end GROUP BY 1
  - name: day_over_day
    deps: [daily_events, {asset: daily_events, offset: -1}]
    partitions: {daily: {start: "2026-01-30", end: "2026-03-02", column: day}}
    materialize:
      sql: >
        SELECT t.day, t.n AS today, y.n AS yesterday
        FROM daily_events AS t LEFT JOIN daily_events AS y ON y.day = t.day - 1
        WHERE t.day >= $partition_start AND t.day < $partition_end
"""


@pytest.fixture
def mapped(tmp_path):
    root = tmp_path / "mapped"
    (root / "events").mkdir(parents=True)
    (root / "duck.yaml").write_text("batch_size: 7\n")
    (root / "assets.yaml").write_text(textwrap.dedent(MAPPED))
    from datetime import date, timedelta

    d = date(2026, 1, 30)
    while d <= date(2026, 3, 2):
        rows = "\n".join(f"{d} 10:{i:02d}:00" for i in range(d.day))
        (root / "events" / f"{d}.csv").write_text("ts\n" + rows + "\n")
        d += timedelta(days=1)
    return root


def test_monthly_from_daily_and_previous_day_offset(mapped):
    duck = Duck(mapped, now="2026-03-05T00:00:00+00:00")
    duck("materialize")
    months = warehouse_rows(mapped, "SELECT strftime(month, '%Y-%m'), days, first_day, last_day "
                                    "FROM monthly_events ORDER BY 1")
    assert [(m, n, str(a), str(b)) for m, n, a, b in months] == [
        ("2026-01", 2, "2026-01-30", "2026-01-31"),
        ("2026-02", 28, "2026-02-01", "2026-02-28")]  # March has not ended yet
    dod = dict(warehouse_rows(mapped, "SELECT CAST(day AS VARCHAR), yesterday FROM day_over_day"))
    assert dod["2026-03-01"] == 28 and dod["2026-01-30"] is None
    # rebuilding one day makes exactly its month and the two day_over_day partitions stale
    duck("backfill", "daily_events", "--partition", "2026-02-10")
    status = {a["name"]: a for a in duck.json("status")["assets"]}
    assert status["monthly_events"]["partitions"]["stale_ranges"] == ["2026-02"]
    assert status["day_over_day"]["partitions"]["stale_ranges"] == ["2026-02-10", "2026-02-11"]


def test_batched_backfill_builds_the_same_table_as_one_by_one(mapped, tmp_path):
    duck = Duck(mapped, now="2026-03-05T00:00:00+00:00")
    duck("materialize", "daily_events")
    one = warehouse_rows(mapped, "SELECT * FROM daily_events ORDER BY ALL")
    duck("backfill", "daily_events", "--from", "2026-01-30", "--to", "2026-03-02",
         "--batch-size", "31")
    assert warehouse_rows(mapped, "SELECT * FROM daily_events ORDER BY ALL") == one
    steps = catalog_rows(mapped, "SELECT len(partitions) FROM steps WHERE run_id = 'r00002' "
                                 "ORDER BY seq")
    assert [s[0] for s in steps] == [31, 1]


def test_max_partitions_refuses_a_large_backfill(mapped):
    duck = Duck(mapped, now="2026-03-05T00:00:00+00:00")
    result = duck("backfill", "daily_events", "--from", "2026-01-30", "--to", "2026-03-02",
                  "--max-partitions", "10", expect=2)
    assert "32 partitions" in result.output and "--max-partitions 10" in result.output
