"""Selection on the command line: --exclude on every selecting command, the comma warning, and
shell completion of names, selectors, ids and option values (honouring -p and DUCK_PROJECT)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from duck_cli.cli.app import app

from conftest import catalog_rows


def complete(words: str, env: dict | None = None) -> list[str]:
    """What bash completion offers for the last word of ``words``."""
    parts = words.split()
    cword = len(parts) - (0 if words.endswith(" ") else 1)
    result = CliRunner().invoke(app, [], prog_name="duck", env={
        "_DUCK_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword),
        **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output.split()


SELECTING = ["graph", "plan", "status", "check", "reconcile", "materialize", "backfill"]


@pytest.mark.parametrize("command", SELECTING)
def test_every_selecting_command_takes_exclude(duck, command):
    assert "--exclude" in duck(command, "--help").output


def test_materialize_with_exclude_leaves_the_excluded_assets_alone(duck, project):
    out = duck.json("materialize", "+zone_metrics", "--exclude", "zone_metrics")
    assert "stg_trips" in {s["asset"] for s in out["steps"]}
    assert {s["asset"] for s in out["steps"]} <= {"raw_trips", "stg_trips"}
    built = {a for (a,) in catalog_rows(project, "SELECT DISTINCT asset FROM materializations")}
    assert "stg_trips" in built and "zone_metrics" not in built


def test_status_with_intersection_and_exclude(duck):
    doc = duck.json("status", "tag:revenue,owner:team:finance")
    assert [a["name"] for a in doc["assets"]] == ["daily_revenue", "regional_revenue",
                                                   "revenue_forecast"]
    doc = duck.json("status", "--exclude", "kind:source", "--exclude", "tag:revenue")
    assert [a["name"] for a in doc["assets"]] == ["stg_trips", "revenue_summary", "revenue_chart"]


def test_a_comma_warns_that_it_now_means_intersection(duck):
    result = duck("status", "tag:revenue,owner:team:finance", "--json")
    assert "intersection" in result.stderr and "separate selectors with spaces" in result.stderr
    assert result.stdout.startswith("{")
    bad = duck("status", "stg_trips,zones", expect=2)
    assert "For the union write: stg_trips zones" in bad.stderr


def test_depth_and_at_on_the_command_line(duck):
    assert [a["name"] for a in duck.json("status", "1+daily_revenue")["assets"]] == [
        "zone_metrics", "daily_revenue"]
    assert "zones" in [a["name"] for a in duck.json("status", "@zone_metrics")["assets"]]


def test_completion_of_names_selectors_and_values_in_the_named_project(project):
    p = str(project)
    assert complete(f"duck status -p {p} zone") == ["zone_metrics", "zones"]
    assert complete(f"duck status -p {p} +stg") == ["+stg_trips"]
    assert complete(f"duck status -p {p} 2+stg") == ["2+stg_trips"]
    assert complete(f"duck materialize -p {p} ta") == ["tag:"]
    assert complete(f"duck status -p {p} tag:re") == ["tag:revenue"]
    assert complete(f"duck status -p {p} owner:team:f") == ["owner:team:finance"]
    assert complete(f"duck status -p {p} tag:revenue,kind:v") == ["tag:revenue,kind:view"]
    assert complete(f"duck status -p {p} --exclude kind:s") == ["kind:source"]
    assert complete(f"duck why -p {p} revenue_") == ["revenue_chart", "revenue_forecast",
                                                     "revenue_summary", "revenue_dashboard"]
    assert complete("duck status zo", {"DUCK_PROJECT": p}) == ["zone_metrics", "zones"]
    assert complete(f"duck status -p {p} --fail-on s") == ["stale"]
    assert complete(f"duck graph -p {p} --format m") == ["mermaid"]


def test_completion_elsewhere_offers_nothing_rather_than_failing(tmp_path):
    assert complete(f"duck status -p {tmp_path} zone") == []


def test_completion_of_run_and_backfill_ids(duck, project):
    p = str(project)
    duck("materialize", "stg_trips")
    duck("backfill", "stg_trips", "--partition", "2026-03-02")
    runs = [r for (r,) in catalog_rows(project, "SELECT run_id FROM runs ORDER BY run_id DESC")]
    assert complete(f"duck runs show -p {p} r") == runs
    (backfill,) = catalog_rows(project, "SELECT backfill_id FROM backfills")[0]
    assert complete(f"duck backfill -p {p} --resume b") == [backfill]


def test_completion_of_schema_values(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "a.yaml").write_text("assets:\n  - name: orders\n    schema: marts\n    materialize:\n"
                                 "      sql: select 1 as id\n  - name: raw\n    materialize:\n"
                                 "      sql: select 1 as id\n")
    assert complete(f"duck status -p {root} sch") == ["schema:"]
    assert complete(f"duck status -p {root} schema:") == ["schema:main", "schema:marts"]
    assert complete(f"duck plan -p {root} +schema:ma") == ["+schema:main", "+schema:marts"]
