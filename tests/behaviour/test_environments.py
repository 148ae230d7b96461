"""Environments and previews on the example project, through the real CLI and real files:
build only what changed, leave production untouched, promote without recomputing."""

from __future__ import annotations

import json
from functools import partial

import pytest

from conftest import PR_MORNING as NOW, invoke, run_json, run_ok
import pgmode

_duck = partial(run_ok, now=NOW)
_json = partial(run_json, now=NOW)


def _tables(root) -> dict:
    """Every relation's rows by (schema, name), read from the warehouse file."""
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=True)
    try:
        names = con.execute("SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT "
                            "internal AND NOT temporary").fetchall()
        return {(s, n): sorted(map(str, con.execute(f'SELECT * FROM "{s}"."{n}"').fetchall()))
                for s, n in names}
    finally:
        con.close()


def _rows(root, sql: str) -> list:
    """Rows of a query on production's state (the catalog file, or PostgreSQL's ``duck``)."""
    if pgmode.enabled():
        return pgmode.query(pgmode.database(root), sql)
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _catalog(root) -> dict:
    return {t: sorted(map(str, _rows(root, f"SELECT * FROM {t}")))
            for t in ("runs", "steps", "materializations", "check_results")}


@pytest.fixture
def project(preview):
    """The built example with the pull request's edit (conftest.preview)."""
    return preview


def test_plan_in_an_environment_lists_exactly_the_change_and_its_downstream(project):
    doc = _json(project, "plan", "--env", "pr")
    preview = doc["preview"]
    assert preview["changed"] == ["zone_metrics"]
    assert set(preview["built"]) == {"zone_metrics", "daily_revenue", "regional_revenue",
                                     "revenue_forecast", "revenue_summary", "revenue_chart"}
    assert set(preview["deferred"]) == {"raw_trips", "zones", "stg_trips"}
    assert {s["asset"] for s in doc["steps"]} <= set(preview["built"])
    assert preview["window"]["zone_metrics"] == {"first": "2026-03-11", "last": "2026-03-13",
                                                 "partitions": 3}
    assert "read from production (3): raw_trips, zones, stg_trips" in \
        _duck(project, "plan", "--env", "pr").stdout


def test_a_preview_leaves_production_unchanged_and_copies_no_upstream(project):
    tables, catalog = _tables(project), _catalog(project)
    _duck(project, "materialize", "--env", "pr", "--no-progress")
    after = _tables(project)
    assert {k: v for k, v in after.items() if k[0] in ("main", "_duck")} == tables
    assert _catalog(project) == catalog
    mine = {n for s, n in after if s == "main__pr"}
    assert "zone_metrics" in mine and "daily_revenue" in mine
    assert not mine & {"raw_trips", "zones", "stg_trips"}  # read from production
    changed = after[("main__pr", "zone_metrics")]
    assert changed != [r for r in tables[("main", "zone_metrics")] if r in changed]
    assert _json(project, "status", "--env", "pr")["assets"]  # its own state answers
    assert [r["command"] for r in _json(project, "runs", "--env", "pr")["runs"]] == \
        ["materialize"]
    assert not _json(project, "plan", "--env", "pr")["steps"]  # built: nothing left to do


def test_promote_makes_production_hold_the_preview_without_running_a_step(project):
    _duck(project, "materialize", "--env", "pr", "--no-progress")
    preview = _tables(project)[("main__pr", "zone_metrics")]
    doc = _json(project, "promote", "--env", "pr")
    assert doc["run_id"] == "pr/r00001"
    assert {a["asset"] for a in doc["assets"]} >= {"zone_metrics", "daily_revenue"}
    # regional_revenue read all of zone_metrics, of which the preview built 3 days: not promoted
    assert "regional_revenue" not in {a["asset"] for a in doc["assets"]}
    prod = _tables(project)[("main", "zone_metrics")]
    assert set(preview) <= set(prod)
    status = _json(project, "status", "zone_metrics", "--partitions")
    zm = {p["partition"]: p["state"] for a in status["assets"] for p in a["partition_list"]}
    assert status["assets"][0]["last_run"]["run_id"] == "pr/r00001"
    assert all(zm[k] == "fresh" for k in ("2026-03-11", "2026-03-12", "2026-03-13"))
    runs = _json(project, "runs")["runs"]
    assert [r["run_id"] for r in runs if r["command"] == "promote"] == ["pr/r00001"]
    detail = _json(project, "runs", "show", "pr/r00001")
    assert {s["asset"] for s in detail["steps"]} == {a["asset"] for a in doc["assets"]}
    assert not detail["checks"]  # no check ran again
    runs_of = {r[0] for r in _rows(
        project, "SELECT DISTINCT run_id FROM materializations WHERE asset = 'zone_metrics' "
        "AND partition_key >= '2026-03-11' AND kind = 'materialization' AND seq = (SELECT "
        "max(seq) FROM materializations m WHERE m.asset = 'zone_metrics' AND m.partition_key = "
        "materializations.partition_key)")}
    assert runs_of == {"pr/r00001"}


def test_promote_after_production_moved_is_refused(project):
    _duck(project, "materialize", "--env", "pr", "--no-progress")
    _duck(project, "backfill", "stg_trips", "--partition", "2026-03-12", "--no-progress")
    before = _tables(project)
    result = _duck(project, "promote", "--env", "pr", code=2)
    assert "production moved since pr was built: stg_trips" in result.output
    assert _tables(project) == before


def test_promote_after_the_manifests_changed_is_refused(project):
    _duck(project, "materialize", "--env", "pr", "--no-progress")
    sql = project / "models" / "zone_metrics.sql"
    sql.write_text(sql.read_text().replace("round(sum(fare), 2)", "round(sum(fare), 1)"))
    result = _duck(project, "promote", "--env", "pr", code=2)
    assert "the manifests changed since pr was built: zone_metrics" in result.output


def test_two_environments_side_by_side_do_not_see_each_other(project):
    _duck(project, "materialize", "--env", "a", "--no-progress")
    sql = project / "models" / "zone_metrics.sql"
    sql.write_text(sql.read_text().replace("round(sum(fare), 2)", "round(sum(fare), 0)"))
    _duck(project, "materialize", "--env", "b", "--no-progress")
    tables = _tables(project)
    assert tables[("main__a", "zone_metrics")] != tables[("main__b", "zone_metrics")]
    assert [r["run_id"] for r in _json(project, "runs", "--env", "a")["runs"]] == ["r00001"]
    assert len(_json(project, "runs", "--env", "b")["runs"]) == 1
    assert _json(project, "plan", "--env", "a")["preview"]["changed"] == ["zone_metrics"]
    names = {e["name"] for e in _json(project, "env", "list")["environments"]}
    assert names == {"a", "b"}


def test_env_list_drop_and_prune(project):
    _duck(project, "materialize", "--env", "pr-7", "--no-progress")
    listed = _json(project, "env", "list")["environments"]
    assert [(e["name"], e["schema"]) for e in listed] == [("pr-7", "main__pr_7")]
    assert listed[0]["tables"] >= 5 and listed[0]["created_at"] == NOW
    assert _json(project, "env", "drop", "pr-7")["dropped"] is True
    assert not any(s == "main__pr_7" for s, _n in _tables(project))
    assert not (project / ".duck" / "envs" / "pr_7" / "catalog.duckdb").exists()
    assert _json(project, "env", "list")["environments"] == []
    _duck(project, "materialize", "--env", "old", "--no-progress")
    later = "2026-04-01T09:00:00+00:00"
    dry = json.loads(invoke(project, "prune", "--envs", "--dry-run", "--json", now=later).stdout)
    assert dry["environments_dropped"] == ["old"] and dry["dry_run"]
    assert [e["name"] for e in _json(project, "env", "list")["environments"]] == ["old"]
    assert json.loads(invoke(project, "prune", "--older-than", "90d", "--json", now=later).stdout)[
        "environments_dropped"] == ["old"]
    assert _json(project, "env", "list")["environments"] == []


def test_environment_names_and_settings(project):
    result = _duck(project, "plan", "--env", "no/such", code=2)
    assert "'no/such' cannot name an environment" in result.output
    (project / "duck.yaml").write_text((project / "duck.yaml").read_text() + (
        "environments:\n  dev: {preview_partitions: 1, vars: {region: '${DUCK_TEST_REGION}'}}\n"))
    missing = _duck(project, "plan", "--env", "dev", code=2)
    assert "DUCK_TEST_REGION" in missing.output
    result = invoke(project, "plan", "--env", "dev", "--json", now=NOW,
                    env={"DUCK_TEST_REGION": "EU"})
    assert json.loads(result.stdout)["preview"]["window"]["zone_metrics"]["partitions"] == 1
    result = invoke(project, "plan", "--json", now=NOW, env={"DUCK_ENV": "dev",
                                                            "DUCK_TEST_REGION": "EU"})
    assert json.loads(result.stdout)["preview"]["env"] == "dev"


def test_diff_of_a_windowed_preview_compares_only_the_partitions_it_built(project):
    """A preview builds the latest days only: the days it left out are not 'removed' rows,
    and the days it built differ exactly where rounding to one decimal changes the value."""
    _duck(project, "materialize", "--env", "pr")
    doc = _json(project, "diff", "zone_metrics", "--env", "pr")
    (asset,) = doc["assets"]
    assert asset["partitions_compared"] == 3
    import duckdb

    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"), read_only=True)
    try:
        expected = dict(con.execute(
            "SELECT strftime(trip_date, '%Y-%m-%d'), count(*) FROM main.zone_metrics "
            "WHERE trip_date >= DATE '2026-03-11' AND round(avg_distance_km, 1) <> "
            "avg_distance_km GROUP BY ALL").fetchall())
    finally:
        con.close()
    assert expected  # the change does alter some rows in the window
    assert {p["partition"]: (p["added"], p["removed"], p["changed"])
            for p in asset["partitions"]} == {k: (0, 0, n) for k, n in expected.items()}
