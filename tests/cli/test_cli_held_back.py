"""`materialize X --force` over unhealthy upstream: what was held back and why, exit code 5 when
nothing could run, and --force building over upstream that still has published data."""

from __future__ import annotations

from duck_cli.errors import ExitCode

from conftest import Duck, append_duplicate_trip, built_example, catalog_rows

DAY = "2026-03-12"


def test_everything_held_back_exits_5_and_says_what_and_why(project):
    (project / "data" / "trips" / f"{DAY}.csv").unlink()
    duck = Duck(project)
    duck("materialize")
    runs = catalog_rows(project, "SELECT count(*) FROM runs")[0][0]
    result = duck("materialize", "zone_metrics", "--partition", DAY, "--force", expect=5)
    assert "Nothing can run" in result.output and "up to date" not in result.output
    assert "Held back" in result.output and f"blocked by stg_trips {DAY}" in result.output
    assert "exit code 5" in result.output
    doc = duck.json("materialize", "zone_metrics", "--partition", DAY, "--force", expect=5)
    assert doc["steps"] == [] and doc["held"][0]["blocker"]["asset"] == "stg_trips"
    assert catalog_rows(project, "SELECT count(*) FROM materializations WHERE asset = "
                                 "'zone_metrics' AND partition_key = ?", [DAY])[0][0] == 0
    assert catalog_rows(project, "SELECT count(*) FROM runs")[0][0] >= runs
    assert int(ExitCode.HELD_BACK) == 5


def test_a_selection_held_back_only_in_part_says_so_and_exits_0(project):
    (project / "data" / "trips" / f"{DAY}.csv").unlink()
    duck = Duck(project)
    duck("materialize")
    again = duck("materialize")  # the rest is up to date: the gate is status --fail-on stale
    assert "Nothing can run" in again.output and "rest of the selection is up to date" in \
        again.output
    words = " ".join(again.output.replace("│", " ").split())
    assert "exit code 5" not in again.output and f"blocked by raw_trips {DAY}" in words
    duck("status", "--fail-on", "stale", expect=3)


def test_force_builds_over_failed_upstream_that_still_has_published_data(tmp_path_factory):
    root = built_example(tmp_path_factory, "force")
    duck = Duck(root)
    append_duplicate_trip(root, DAY)
    duck("materialize", "stg_trips", "--partition", DAY, "--force", expect=1)  # its check fails
    held = duck("materialize", "zone_metrics", "--partition", DAY, expect=5)
    assert f"blocked by stg_trips {DAY}" in " ".join(held.output.replace("│", " ").split())
    before = _mats(root)
    (planned,) = duck.json("plan", "zone_metrics", "--partition", DAY, "--force")["steps"]
    assert f"--force: reads stg_trips {DAY} as published (failed)" in planned["reasons"]
    doc = duck.json("materialize", "zone_metrics", "--partition", DAY, "--force")
    (step,) = doc["steps"]
    assert step["asset"] == "zone_metrics" and step["status"] == "success"
    assert _mats(root) == before + 1


def test_a_selection_that_is_up_to_date_still_exits_0(tmp_path_factory):
    root = built_example(tmp_path_factory, "uptodate")
    result = Duck(root)("materialize", "zone_metrics")
    assert result.output.startswith("Nothing to do: everything selected is up to date.")


def _mats(root) -> int:
    return catalog_rows(root, "SELECT count(*) FROM materializations WHERE asset = 'zone_metrics' "
                              "AND partition_key = ?", [DAY])[0][0]
