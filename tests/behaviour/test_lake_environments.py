"""Environments on a DuckLake warehouse, through the real CLI: the preview's tables are the lake's
schema main__pr (its ledger _duck__pr), its state PostgreSQL's schema duck__pr; a preview builds
only the changed asset and its downstream, `diff` compares it, `promote` makes production's lake
tables hold its rows, `env drop` removes its lake schemas. Runs (never skips) where
DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import json

from conftest import edit_zone_metrics, invoke
from behaviour.test_lake import lake_rows, use_lake

NOW = "2026-03-14T09:00:00+00:00"
UPSTREAM = {"raw_trips", "zones", "stg_trips"}


def _ok(project, env, *args):
    result = invoke(project, *args, now=NOW, env=env)
    assert result.exit_code == 0, result.output
    return result


def _tables(project, env, schema: str) -> set[str]:
    return {r[0] for r in lake_rows(project, env, "SELECT table_name FROM duckdb_tables() WHERE "
                                                  "database_name = 'lake' AND schema_name = ?",
                                    [schema])}


def _state_schemas(postgres, db: str) -> set[str]:
    import psycopg

    with psycopg.connect(postgres.dsn(db)) as con:
        return {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata")}


def _promote_refused_while_another_writer_commits(project, env, prod_rows) -> None:
    """A writer committing to production's table throughout: each promotion transaction (held
    open 0.3 s at its fault point) meets a DuckLake conflict and runs again, up to the bound;
    then one error naming the environment, exit 1, and nothing promoted or recorded."""
    import threading

    import duckdb

    from duck_cli.state import extensions

    stop = threading.Event()

    def write() -> None:
        con = duckdb.connect()
        try:
            extensions.load(con, ("ducklake", "postgres"), project / ".duck")
            dsn = " ".join(f"{k}={env['PG' + k.upper()]}" for k in ("host", "port", "user",
                                                                     "password", "database"))
            con.execute(f"ATTACH 'ducklake:postgres:{dsn.replace('database=', 'dbname=')}' AS w")
            while not stop.is_set():  # rewrites the previewed slice's rows as they are
                con.execute("UPDATE w.main.zone_metrics SET trip_date = trip_date "
                            "WHERE trip_date >= DATE '2026-03-11'")
                stop.wait(0.05)
        finally:
            con.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        faults = ",".join(f"promote:{n}:pause=0.3" for n in range(1, 9))
        refused = invoke(project, "promote", "--env", "pr", now=NOW,
                         env={**env, "DUCK_FAULT": faults})
    finally:
        stop.set()
        writer.join()
    assert refused.exit_code == 1, refused.output
    words = " ".join(refused.output.split())
    assert "promoting environment 'pr' into production: the lake refused the commit 8 times" \
        in words and "nothing was promoted" in words and "Traceback" not in refused.output
    assert lake_rows(project, env, "SELECT * FROM main.zone_metrics ORDER BY ALL") == prod_rows
    runs = json.loads(_ok(project, env, "runs", "--json").stdout)["runs"]
    assert not any(r["run_id"].startswith("pr/") for r in runs)


def test_a_preview_on_a_lake_builds_diffs_promotes_and_drops(project, postgres):
    state = postgres.create_database("state")
    env = use_lake(project, postgres, "lake-data", f"state: {{postgres: 'dbname={state}'}}\n")
    _ok(project, env, "materialize")
    edit_zone_metrics(project)
    prod_rows = lake_rows(project, env, "SELECT * FROM main.zone_metrics ORDER BY ALL")

    plan = json.loads(_ok(project, env, "plan", "--env", "pr", "--json").stdout)
    assert plan["preview"]["changed"] == ["zone_metrics"]
    assert {s["asset"] for s in plan["steps"]} <= set(plan["preview"]["built"])
    _ok(project, env, "materialize", "--env", "pr", "--no-progress")
    mine = _tables(project, env, "main__pr")
    assert "zone_metrics" in mine and not mine & UPSTREAM  # upstream read from production
    assert lake_rows(project, env, "SELECT * FROM main.zone_metrics ORDER BY ALL") == prod_rows
    assert "duck__pr" in _state_schemas(postgres, state)
    runs = json.loads(_ok(project, env, "runs", "--env", "pr", "--json").stdout)["runs"]
    assert [r["command"] for r in runs] == ["materialize"]

    diff = json.loads(_ok(project, env, "diff", "zone_metrics", "--env", "pr", "--json").stdout)
    (z,) = diff["assets"]
    assert (z["status"], z["env"], z["partitions_compared"]) == (
        "differs", "main__pr.zone_metrics", 3)
    assert z["rows"]["added"] == z["rows"]["removed"] == 0 and z["rows"]["changed"] > 0

    preview = lake_rows(project, env, "SELECT * FROM main__pr.zone_metrics ORDER BY ALL")
    _promote_refused_while_another_writer_commits(project, env, prod_rows)
    doc = json.loads(_ok(project, env, "promote", "--env", "pr", "--json").stdout)
    assert "zone_metrics" in {a["asset"] for a in doc["assets"]}
    assert lake_rows(project, env, "SELECT * FROM main.zone_metrics WHERE trip_date >= "
                                   "DATE '2026-03-11' ORDER BY ALL") == preview
    assert lake_rows(project, env, "SELECT * FROM main.zone_metrics WHERE trip_date < "
                                   "DATE '2026-03-11' ORDER BY ALL") == [
        r for r in prod_rows if str(r[0]) < "2026-03-11"]
    status = json.loads(_ok(project, env, "status", "zone_metrics", "--json").stdout)
    assert status["assets"][0]["last_run"]["run_id"] == "pr/r00001"

    dropped = json.loads(_ok(project, env, "env", "drop", "pr", "--json").stdout)
    assert dropped["dropped"] is True
    assert not _tables(project, env, "main__pr") and not _tables(project, env, "_duck__pr")
    assert "main__pr" not in {r[0] for r in lake_rows(
        project, env, "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'lake'")}
    assert "duck__pr" not in _state_schemas(postgres, state)


def test_a_preview_of_an_asset_in_a_schema_on_a_lake(project, postgres):
    """Per-asset schemas compose with environments on a lake: zone_metrics lives in marts, its
    preview in marts__pr (nothing else copied), promote fills marts.zone_metrics, and env drop
    removes marts__pr with the environment's other schemas."""
    state = postgres.create_database("state")
    manifest = project / "mobility.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("  - name: zone_metrics\n",
                                     "  - name: zone_metrics\n    schema: marts\n", 1))
    env = use_lake(project, postgres, "lake-data", f"state: {{postgres: 'dbname={state}'}}\n")
    _ok(project, env, "materialize")
    assert "zone_metrics" in _tables(project, env, "marts")
    edit_zone_metrics(project)

    _ok(project, env, "materialize", "--env", "pr", "--no-progress")
    assert _tables(project, env, "marts__pr") == {"zone_metrics"}
    assert not _tables(project, env, "main__pr") & UPSTREAM
    preview = lake_rows(project, env, "SELECT * FROM marts__pr.zone_metrics ORDER BY ALL")
    listed = json.loads(_ok(project, env, "env", "list", "--json").stdout)
    (pr,) = [e for e in listed["environments"] if e["name"] == "pr"]
    built = len(_tables(project, env, "marts__pr")) + len(_tables(project, env, "main__pr"))
    assert pr["tables"] == built >= 1 and pr["rows"] >= len(preview), pr  # the lake's counted
    _ok(project, env, "promote", "--env", "pr")
    assert lake_rows(project, env, "SELECT * FROM marts.zone_metrics WHERE trip_date >= "
                                   "DATE '2026-03-11' ORDER BY ALL") == preview
    _ok(project, env, "env", "drop", "pr")
    schemas = {r[0] for r in lake_rows(
        project, env, "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'lake'")}
    assert "marts" in schemas and not schemas & {"marts__pr", "main__pr", "_duck__pr"}
