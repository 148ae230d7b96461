"""backfill, reconcile and check in an environment, on the example through the real CLI: each
builds (or checks) only the environment's changed assets and their downstream, reads unchanged
upstream from production, and leaves production's tables and state untouched."""

from __future__ import annotations

from functools import partial

import pytest

from conftest import PR_MORNING as NOW, run_json, run_ok
import pgmode

_duck = partial(run_ok, now=NOW)
_json = partial(run_json, now=NOW)
UPSTREAM = {"raw_trips", "zones", "stg_trips"}  # unchanged by the edit: production's


def _warehouse(root, sql: str, read_only: bool = True) -> list:
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=read_only)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _relations(root) -> dict:
    """Every relation's rows by (schema, name)."""
    names = _warehouse(root, "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
                             "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT "
                             "internal AND NOT temporary")
    return {(s, n): sorted(map(str, _warehouse(root, f'SELECT * FROM "{s}"."{n}"')))
            for s, n in names}


def _production(root) -> tuple[dict, dict]:
    """Production's relations and its state's records (the catalog file, or PostgreSQL)."""
    tables = {k: v for k, v in _relations(root).items() if k[0] in ("main", "_duck")}
    if pgmode.enabled():
        rows = lambda sql: pgmode.query(pgmode.database(root), sql)  # noqa: E731
    else:
        import duckdb

        def rows(sql):
            con = duckdb.connect(str(root / ".duck" / "catalog.duckdb"), read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
    state = {t: sorted(map(str, rows(f"SELECT * FROM {t}")))
             for t in ("runs", "steps", "materializations", "check_results")}
    return tables, state


def _days(root, table: str) -> list[str]:
    return [r[0] for r in _warehouse(root, f"SELECT DISTINCT strftime(trip_date, '%Y-%m-%d') "
                                           f"FROM {table} ORDER BY 1")]


@pytest.fixture
def project(preview):
    """The built example with the pull request's edit (conftest.preview)."""
    return preview


def _own_tables(root) -> set[str]:
    return {n for s, n in _relations(root) if s == "main__pr"}


def test_backfill_in_an_environment_builds_its_changed_assets_for_the_range(project):
    before = _production(project)
    doc = _json(project, "backfill", "+zone_metrics", "--env", "pr", "--from", "2026-03-02",
                "--to", "2026-03-04", "--no-progress")
    assert {s["asset"] for s in doc["steps"]} == {"zone_metrics"}  # stg_trips is production's
    assert _days(project, "main__pr.zone_metrics") == ["2026-03-02", "2026-03-03", "2026-03-04"]
    expected = _warehouse(project, "SELECT count(*) FROM main.zone_metrics WHERE trip_date "
                                   "BETWEEN DATE '2026-03-02' AND DATE '2026-03-04'")
    assert _warehouse(project, "SELECT count(*) FROM main__pr.zone_metrics") == expected
    assert _warehouse(project, "SELECT count(*) FROM main__pr.zone_metrics WHERE "
                               "round(avg_distance_km, 1) <> avg_distance_km") == [(0,)]
    assert not _own_tables(project) & UPSTREAM  # read from production, not copied
    assert _production(project) == before
    runs = _json(project, "runs", "--env", "pr")["runs"]
    assert [r["command"] for r in runs] == ["backfill"]


def test_backfill_in_an_environment_of_an_unchanged_asset_is_refused(project):
    before = _production(project)
    result = _duck(project, "backfill", "stg_trips", "--env", "pr", "--from", "2026-03-02",
                   "--to", "2026-03-04", code=2)
    assert "stg_trips do(es) not differ from production, so pr reads them from production" \
        in result.output
    assert not _own_tables(project)
    assert _production(project) == before


def test_reconcile_in_an_environment_builds_the_preview_window_of_what_changed(project):
    before = _production(project)
    plan = _json(project, "reconcile", "--env", "pr")
    assert {s["asset"] for s in plan["steps"]} == {
        "zone_metrics", "daily_revenue", "regional_revenue", "revenue_forecast",
        "revenue_summary", "revenue_chart"}
    _duck(project, "reconcile", "--env", "pr", "--apply", "--no-progress")
    assert _days(project, "main__pr.zone_metrics") == ["2026-03-11", "2026-03-12", "2026-03-13"]
    assert not _own_tables(project) & UPSTREAM
    assert _production(project) == before
    assert not _json(project, "reconcile", "--env", "pr")["steps"]  # nothing left to recover


def test_check_in_an_environment_checks_its_own_tables_only(project):
    _duck(project, "materialize", "--env", "pr", "--no-progress")
    before = _production(project)
    _warehouse(project, "DELETE FROM main__pr.zone_metrics WHERE trip_date = DATE '2026-03-12'",
               read_only=False)
    doc = _json(project, "check", "zone_metrics", "--env", "pr", code=1)
    failed = {(r["partition"], r["name"]) for r in doc["results"] if not r["passed"]}
    assert failed == {("2026-03-12", "has_rows")}
    assert {r["partition"] for r in doc["results"]} == {"2026-03-11", "2026-03-12",
                                                         "2026-03-13"}
    everything = _json(project, "check", "--env", "pr", code=1)
    assert not {r["asset"] for r in everything["results"]} & UPSTREAM  # production's own
    assert _production(project) == before  # the results are the environment's
    assert _json(project, "check", "zone_metrics")["passed"] is True  # production's table
