"""`duck prune`: delete old run history, never what status stands on.

A history of runs is built once: a full materialize, a rebuild of one partition that a later
rebuild supersedes, a failed rebuild followed by a good one, and the next day's run. Pruning
with --keep-runs or --older-than must delete the runs nothing current depends on and leave
`duck status` exactly as it was: every current materialization, the latest attempt of every
partition (a failure stays visible), and the latest check results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import catalog_rows, copy_project, example_copy
from duck_cli.cli.app import app
from reliability_check import check_consistency

DAY1, DAY2 = "2026-03-13T07:30:00+01:00", "2026-03-14T07:30:00+01:00"
BROKEN = ("sum(trips) AS trips, round", "sum(trips) AS trips, no_such_col, round")



def duck(root: Path, *args: str, now: str, expect: int | None = 0):
    result = CliRunner().invoke(app, [*args, "-p", str(root)], env={"DUCK_NOW": now})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if expect is not None:
        assert result.exit_code == expect, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result


def status(root: Path, now: str) -> dict:
    doc = json.loads(duck(root, "status", "--json", now=now).stdout)
    doc.pop("now", None)
    return doc


def run_ids(root: Path) -> list[str]:
    return [r[0] for r in catalog_rows(root, "SELECT run_id FROM runs ORDER BY run_id")]


def current(root: Path) -> list[tuple]:
    """The current materialization of every asset partition: (asset, key, seq, run_id)."""
    return catalog_rows(root, "SELECT asset, partition_key, seq, run_id FROM materializations "
                              "QUALIFY row_number() OVER (PARTITION BY asset, partition_key "
                              "ORDER BY seq DESC) = 1 ORDER BY ALL")


def _break(root: Path, broken: bool) -> None:
    manifest = root / "finance.yaml"
    old, new = BROKEN if broken else BROKEN[::-1]
    manifest.write_text(manifest.read_text().replace(old, new))


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """r1 full; r2 rebuilds daily_revenue 03-12, superseded by r4; r3 fails on it; r5 next day."""
    root = tmp_path_factory.mktemp("prune") / "history"
    example_copy(root)
    one = ("materialize", "daily_revenue", "--partition", "2026-03-12", "--force")
    duck(root, "materialize", now=DAY1)
    duck(root, *one, now="2026-03-13T08:00:00+01:00")
    _break(root, True)
    duck(root, *one, now="2026-03-13T09:00:00+01:00", expect=1)
    _break(root, False)
    duck(root, *one, now="2026-03-13T10:00:00+01:00")
    duck(root, "materialize", now=DAY2)
    assert run_ids(root) == ["r00001", "r00002", "r00003", "r00004", "r00005"]
    assert check_consistency(root) == []
    return root


@pytest.fixture
def project(history, tmp_path) -> Path:
    root = tmp_path / "p"
    copy_project(history, root)
    return root


def _assert_pruned_safely(root: Path, now: str, args: tuple, gone: list[str]) -> None:
    before_status, before_current, before_runs = status(root, now), current(root), run_ids(root)
    before_plan = duck(root, "plan", "--json", now=now).stdout
    result = duck(root, "prune", *args, "--json", now=now)
    deleted = json.loads(result.stdout)["deleted"]
    assert deleted["runs"] == len(gone), deleted
    assert run_ids(root) == [r for r in before_runs if r not in gone]
    assert status(root, now) == before_status
    assert current(root) == before_current
    assert check_consistency(root) == []
    for run_id in gone:
        assert duck(root, "runs", "show", run_id, now=now, expect=2).exit_code == 2
    again = json.loads(duck(root, "prune", *args, "--json", now=now).stdout)["deleted"]
    assert again["runs"] == 0
    assert duck(root, "plan", "--json", now=now).stdout == before_plan


def test_keep_runs_deletes_superseded_runs_and_changes_no_status(project):
    _assert_pruned_safely(project, DAY2, ("--keep-runs", "1"), gone=["r00002", "r00003"])


def test_older_than_deletes_old_superseded_runs_and_changes_no_status(project):
    later = "2026-06-30T12:00:00+02:00"
    _assert_pruned_safely(project, later, ("--older-than", "90d"), gone=["r00002", "r00003"])


def test_older_than_keeps_recent_runs(project):
    before = run_ids(project)
    doc = json.loads(duck(project, "prune", "--older-than", "90d", "--json", now=DAY2).stdout)
    assert doc["deleted"]["runs"] == 0
    assert run_ids(project) == before


def test_a_failed_latest_attempt_survives_pruning(project):
    _break(project, True)
    later = "2026-03-14T09:00:00+01:00"
    duck(project, "materialize", "daily_revenue", "--partition", "2026-03-13", "--force",
         now=later, expect=1)
    duck(project, "materialize", "regional_revenue", "--force", now=later)
    before = status(project, later)
    dr = next(a for a in before["assets"] if a["name"] == "daily_revenue")
    assert dr["partitions"]["failed_ranges"] == ["2026-03-13"]
    _assert_pruned_safely(project, later, ("--keep-runs", "1"), gone=["r00002", "r00003"])


def test_prune_needs_a_limit_and_a_count_of_zero_or_more(project):
    before = run_ids(project)
    result = duck(project, "prune", now=DAY2, expect=2)
    assert "--keep-runs" in result.output and "--older-than" in result.output
    result = duck(project, "prune", "--keep-runs", "-1", now=DAY2, expect=2)
    assert "-1" in result.output
    assert run_ids(project) == before


@pytest.mark.parametrize("age", ["banana", "-5d", "0s", "90 days"])
def test_prune_refuses_an_age_that_is_not_a_duration(project, age):
    before = run_ids(project)
    result = duck(project, "prune", "--older-than", age, now=DAY2, expect=2)
    assert age in result.output and "90d" in result.output
    assert run_ids(project) == before


def test_dry_run_counts_the_same_deletions_and_deletes_nothing(project):
    before = run_ids(project)
    dry = json.loads(duck(project, "prune", "--keep-runs", "1", "--dry-run", "--json",
                          now=DAY2).stdout)
    assert dry["dry_run"] is True and dry["deleted"]["runs"] == 2
    assert run_ids(project) == before
    text = duck(project, "prune", "--keep-runs", "1", "--dry-run", now=DAY2).stdout
    assert text.startswith("would delete (dry run, nothing deleted): ") and "2 runs" in text
    real = json.loads(duck(project, "prune", "--keep-runs", "1", "--json", now=DAY2).stdout)
    assert real["deleted"] == dry["deleted"] and real["dry_run"] is False
    assert run_ids(project) == [r for r in before if r not in ("r00002", "r00003")]


def test_an_age_that_is_not_a_duration_is_said_once(project):
    result = duck(project, "prune", "--older-than", "90x", now=DAY2, expect=2)
    assert result.output.count("is not a duration") == 1
    assert "--older-than '90x' is not a duration. Write it like 90d, 12h or 2w." in result.output
