"""Tables people read: `duck status`, `duck check` and `duck runs show` at 80, 120 and 200
columns. Names never split, lines fit the width, rows of healthy assets are one line tall, and
what a narrow terminal leaves out is named (or folded into the row when it matters)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from duck_cli.cli.app import app

from conftest import MORNING, add_checks_on_published_data, built_example

WIDTHS = [80, 120, 200]
ASSETS = ["raw_trips", "zones", "stg_trips", "zone_metrics", "daily_revenue",
          "regional_revenue", "revenue_summary", "revenue_forecast", "revenue_chart"]
WORDS = ASSETS + ["team:mobility-analytics", "team:finance", "one_row_per_trip", "short_trips"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return built_example(tmp_path_factory, "tables")


def at(root, width: int, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(app, [*args, "-p", str(root)],
                                env={"COLUMNS": str(width), "DUCK_NOW": MORNING})
    assert result.exit_code == expect, result.output
    return result.stdout


def assert_fits(out: str, width: int, words=WORDS) -> None:
    """Every line within the width; each word shown whole or not at all."""
    lines = out.splitlines()
    assert lines and max(len(line) for line in lines) <= width, max(lines, key=len)
    for word in words:
        for cut in range(4, len(word)):  # a piece of the word at the end of a cell
            piece = re.escape(word[:cut])
            assert not re.search(piece + r"\s*│", out) or word in out, (word, out)
    cells = [c.strip() for line in lines for c in line.split("│")]
    for word in words:
        assert not any(c and c != word and word.startswith(c) and len(c) >= 4 for c in cells), (
            word, out)


@pytest.mark.parametrize("width", WIDTHS)
def test_status_fits_and_names_stay_whole(built, width):
    out = at(built, width, "status")
    assert_fits(out, width)
    for name in ASSETS:
        assert name in out
    body = [line for line in out.splitlines() if line.startswith("│")]
    assert len(body) == len(ASSETS) + 1  # one line per healthy asset (+ the product's row)


def test_status_drops_columns_as_the_terminal_narrows_and_says_which(built):
    narrow, mid, wide = (at(built, w, "status") for w in WIDTHS)
    assert "team:mobility-analytics" in wide and "Not shown" not in wide
    header = next(line for line in narrow.splitlines() if "Asset" in line)
    assert "Kind" not in header and "Owner" not in header and "Checks" in header
    assert "Not shown at this width: Kind, Owner" in " ".join(narrow.split())
    assert "`duck status --json` has everything" in " ".join(narrow.split())
    assert "Freshness" in mid and "State" in narrow and "Partitions" in narrow


def test_a_failed_check_folds_into_the_why_column_when_checks_drop(tmp_path_factory):
    root = built_example(tmp_path_factory, "folded")
    add_checks_on_published_data(root)
    at(root, 200, "materialize", "stg_trips", "--force", expect=1)
    narrow = " ".join(at(root, 80, "status").replace("│", " ").split())
    assert "checks: failed cheap_trips, short_trips" in narrow and "last run: r00002 failed" in narrow
    assert_fits(at(root, 80, "status"), 80)


@pytest.mark.parametrize("width", WIDTHS)
def test_check_table_fits_with_a_failure_and_a_warning(tmp_path_factory, width):
    root = built_example(tmp_path_factory, f"check{width}")
    add_checks_on_published_data(root)
    out = at(root, width, "check", "stg_trips", "--partition", "2026-03-09", expect=1)
    assert_fits(out, width)
    for word in ("short_trips", "cheap_trips", "one_row_per_trip", "2026-03-09", "failed", "warn"):
        assert word in out
    rows = [line for line in out.splitlines() if "│ stg_trips" in line or "│stg_trips" in line]
    assert len(rows) >= 3


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_show_steps_and_checks_fit(built, width):
    out = at(built, width, "runs", "show", "r00001")
    assert_fits(out, width)
    for word in ("stg_trips", "zone_metrics", "regional_revenue", "one_row_per_trip", "has_rows"):
        assert word in out


def test_times_in_tables_are_local_to_the_second_and_json_keeps_the_offset(built):
    from reliability_check import run_duck

    for tz, offset in (("Europe/Amsterdam", "+01:00"), ("UTC", "+00:00")):
        runs = run_duck(built, "runs", now=MORNING, TZ=tz).stdout
        stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", runs)
        assert stamps and all(s.endswith(offset) for s in stamps), runs
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", runs)  # no microseconds
        status = run_duck(built, "status", now=MORNING, TZ=tz).stdout
        assert status.startswith(f"Status at 2026-03-13 {'07' if tz != 'UTC' else '06'}:30:00"
                                 f"{offset}")
    doc = json.loads(run_duck(built, "runs", "--json", now=MORNING, TZ="UTC").stdout)
    started = doc["runs"][0]["started_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", started), started


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = built_example(tmp_path_factory, "history")
    at(root, 200, "backfill", "zone_metrics", "--partition", "2026-03-05")
    return root


@pytest.mark.parametrize("width", WIDTHS)
def test_a_run_result_the_runs_and_the_backfills_fit(history, width):
    out = at(history, width, "materialize", "regional_revenue", "--force")
    # (what reads regional_revenue is not in this run, and 'revenue' ends its cells)
    assert_fits(out, width, [w for w in WORDS if w not in
                             ("revenue_summary", "revenue_forecast", "revenue_chart")])
    assert sum(line.startswith("│regional_revenue ") for line in out.splitlines()) == 3
    assert "3 succeeded" in out and "1 check(s) passed" in out
    runs = at(history, width, "runs")
    assert_fits(runs, width, ["materialize", "backfill", "success"])
    stamps = re.findall(r"│ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d) ", runs)
    assert len(stamps) >= 3  # a time is one cell on one line, whatever the width
    backfills = at(history, width, "backfills")
    assert_fits(backfills, width, ["zone_metrics", "completed", "2026-03-05"])
    assert "b00001" in backfills and "1/1" in backfills and "zone_metrics: 2026-03-05" in backfills
    if width == 80:
        assert "Not shown at this width" in " ".join((out + runs + backfills).split())
