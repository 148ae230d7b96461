"""`duck diff` in lake mode: production built by the real CLI into a DuckLake (catalog in a real
PostgreSQL), an environment's table created beside it in schema main__pr of the same lake, and
the same numbers as on a local warehouse. Runs (never skips) where DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import json

from conftest import invoke
from behaviour.test_lake import use_lake

PREVIEW = """
CREATE SCHEMA main__pr;
CREATE TABLE main__pr.zone_metrics AS
  SELECT *, 0.5::DOUBLE AS tip_share FROM main.zone_metrics
  WHERE NOT (trip_date = DATE '2026-03-02' AND zone_id = 3);
UPDATE main__pr.zone_metrics SET revenue = revenue + 1
  WHERE trip_date = DATE '2026-03-05' AND zone_id IN (1, 2);
"""


def test_diff_compares_an_environment_in_the_lake(project, postgres, monkeypatch):
    env = use_lake(project, postgres, "lake-data")
    assert invoke(project, "materialize", env=env).exit_code == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from duck_cli.manifest.load import load_project
    from duck_cli.state.backends import open_warehouse

    lake = open_warehouse(load_project(project).settings, wait=5)
    try:
        lake.con.execute(PREVIEW)  # what `duck materialize --env pr` would leave in the lake
    finally:
        lake.close()
    result = invoke(project, "diff", "zone_metrics", "daily_revenue", "--env", "pr", "--json",
                    env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    z = next(a for a in doc["assets"] if a["asset"] == "zone_metrics")
    assert (z["status"], z["env"], z["key"]) == ("differs", "main__pr.zone_metrics",
                                                  ["trip_date", "zone_id"])
    assert z["rows"] == {"added": 0, "removed": 1, "changed": 2}
    assert [(p["partition"], p["removed"], p["changed"]) for p in z["partitions"]] == [
        ("2026-03-02", 1, 0), ("2026-03-05", 0, 2)]
    assert [c["column"] for c in z["schema_changes"]] == ["tip_share"]
    assert next(a for a in doc["assets"] if a["asset"] == "daily_revenue")["status"] == "shared"
    unknown = invoke(project, "diff", "--env", "pr-9", env=env)
    assert unknown.exit_code == 2 and "no schema main__pr_9" in " ".join(unknown.output.split())
