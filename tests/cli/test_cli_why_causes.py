"""`duck why` where the cause is the asset itself or an offset dependency, and the words it uses:
an own failed check is the root cause (fix the data or the check, not a rebuild that fails the
same way); an offset dep names the upstream partition it read; a re-delivered source 'arrived'."""

from __future__ import annotations

import shutil

from conftest import Duck, append_duplicate_trip, built_example

DAY = "2026-03-09"
PREV_DAY = """
  - name: trips_prev_day
    kind: table
    owner: team:mobility-analytics
    deps: [{asset: stg_trips, offset: -1}]
    partitions:
      daily: {start: "2026-03-02", end: "2026-03-14", timezone: UTC, column: d}
    materialize:
      strategy: incremental
      sql: |
        SELECT CAST(trip_date + INTERVAL 1 DAY AS DATE) AS d, count(*) AS trips
        FROM stg_trips
        WHERE trip_date + INTERVAL 1 DAY >= $partition_start
          AND trip_date + INTERVAL 1 DAY < $partition_end
        GROUP BY 1
"""


def _failed_own_check(tmp_path_factory, name):
    root = built_example(tmp_path_factory, name)
    duck = Duck(root)
    original = (root / "data" / "trips" / f"{DAY}.csv").read_bytes()
    append_duplicate_trip(root, DAY)
    duck("materialize", "stg_trips", "--partition", DAY, "--force", expect=1)
    return root, duck, original


def test_an_own_failed_check_is_the_root_cause_and_the_fix_is_data_or_check(tmp_path_factory):
    _root, duck, _original = _failed_own_check(tmp_path_factory, "own")
    report = duck.json("why", "stg_trips", "--partition", DAY)
    (root,) = report["root_causes"]
    assert (root["asset"], root["partition"], root["reason"]) == ("stg_trips", DAY, "check_failed")
    assert "one_row_per_trip" in root["message"]
    assert report["next_action"]["action"] == "fix_data_or_check"
    assert "fails the same way" in report["next_action"]["message"]
    action = report["questions"][4]
    assert action["answer"] == "fix the data or the check"
    text = " ".join(duck("why", "stg_trips", "--partition", DAY).output.split())
    assert "Rematerialize here, or repair upstream first? fix the data or the check" in text
    assert "Root cause: stg_trips 2026-03-09: check one_row_per_trip failed" in text


def test_a_redelivered_source_arrived_since_the_failure_and_a_rebuild_is_advised(
        tmp_path_factory):
    root, duck, original = _failed_own_check(tmp_path_factory, "redelivered")
    (root / "data" / "trips" / f"{DAY}.csv").write_bytes(original)
    part = duck.json("why", "stg_trips", "--partition", DAY)
    assert part["root_causes"] == [] and part["next_action"]["action"] == "rematerialize"
    assert part["questions"][4]["answer"] == "rematerialize here"
    status = duck.json("status", "stg_trips", "--partitions")["assets"][0]
    (p,) = [p for p in status["partition_list"] if p["partition"] == DAY]
    messages = [r["message"] for r in p["reasons"]]
    assert f"raw_trips {DAY} arrived since the failure" in messages
    assert not any("materialized since" in m for m in messages)


def test_why_on_an_offset_dependency_names_the_upstream_partition_it_read(tmp_path_factory):
    root = tmp_path_factory.mktemp("offset") / "project"
    shutil.copytree(built_example(tmp_path_factory, "offset_base"), root)
    (root / "mobility.yaml").write_text((root / "mobility.yaml").read_text() + PREV_DAY)
    duck = Duck(root)
    duck("materialize", "trips_prev_day")
    duck("materialize", "stg_trips", "--partition", "2026-03-10", "--force")
    report = duck.json("why", "trips_prev_day", "--partition", "2026-03-11")
    detail = report["questions"][1]["detail"]
    assert "stg_trips 2026-03-10 materialized since its last materialization" in detail
    assert report["state"] == "stale"
