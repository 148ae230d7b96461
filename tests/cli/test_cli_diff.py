"""`duck diff` on the example: production built by the real CLI, an environment's tables made
the way the environment contract says (schema ``main__pr`` in the same warehouse, holding only
what the environment built), compared against expectations computed by hand from the change.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from conftest import ROOT, warehouse_rows
from duck_cli.cli.app import app

pytestmark = pytest.mark.materialized

ZONE_CHANGE = """
CREATE SCHEMA main__pr;
CREATE TABLE main__pr.zone_metrics AS
  SELECT *, round(revenue / trips, 2)::DOUBLE AS tip_share FROM main.zone_metrics
  WHERE NOT (trip_date = DATE '2026-03-02' AND zone_id = 3);
UPDATE main__pr.zone_metrics SET revenue = revenue + 1
  WHERE trip_date = DATE '2026-03-05' AND zone_id IN (1, 2);
INSERT INTO main__pr.zone_metrics VALUES (DATE '2026-03-05', 99, 'Zone 99', 1, 10.00, 1.0, 10.0);
"""


def _sql(root: Path, script: str) -> None:
    """Change the warehouse as an environment's build would have (a plain DuckDB client)."""
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"))
    try:
        con.execute(script)
    finally:
        con.close()


def _one(root: Path, sql: str):
    return warehouse_rows(root, sql)[0][0]


def _valid(doc: dict) -> dict:
    schema = json.loads((ROOT / "schemas" / "diff.schema.json").read_text())
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(doc)]
    assert not errors, errors
    return doc


def _asset(doc: dict, name: str) -> dict:
    return next(a for a in doc["assets"] if a["asset"] == name)


def test_diff_counts_added_removed_and_changed_rows_per_partition(duck, project):
    day2 = "trip_date = DATE '2026-03-02'"
    rows2 = _one(project, f"SELECT count(*) FROM zone_metrics WHERE {day2}")
    rows5 = _one(project, "SELECT count(*) FROM zone_metrics WHERE trip_date = DATE '2026-03-05'")
    days = _one(project, "SELECT count(DISTINCT trip_date) FROM zone_metrics")
    revenue = _one(project, "SELECT sum(revenue) FROM zone_metrics")
    gone = _one(project, f"SELECT revenue FROM zone_metrics WHERE {day2} AND zone_id = 3")
    z1, z2 = (_one(project, "SELECT revenue FROM zone_metrics WHERE trip_date = "
                   f"DATE '2026-03-05' AND zone_id = {z}") for z in (1, 2))
    _sql(project, ZONE_CHANGE)

    doc = _valid(duck.json("diff", "--env", "pr"))
    assert (doc["env"], doc["base"], doc["differs"]) == ("pr", "prod", True)
    z = _asset(doc, "zone_metrics")
    assert (z["status"], z["key"], z["partition_column"]) == (
        "differs", ["trip_date", "zone_id"], "trip_date")
    assert (z["base"], z["env"]) == ("main.zone_metrics", "main__pr.zone_metrics")
    assert z["rows"] == {"added": 1, "removed": 1, "changed": 2}
    assert z["partitions_compared"] == days
    assert z["partitions"] == [
        {"partition": "2026-03-02", "added": 0, "removed": 1, "changed": 0,
         "base_rows": rows2, "env_rows": rows2 - 1},
        {"partition": "2026-03-05", "added": 1, "removed": 0, "changed": 2,
         "base_rows": rows5, "env_rows": rows5 + 1}]
    assert z["schema_changes"] == [{"column": "tip_share", "change": "added", "base_type": None,
                                    "env_type": "DOUBLE"}]
    cols = {c["column"]: c for c in z["columns"]}
    assert cols["revenue"]["changed"] == 2 and cols["trips"]["changed"] == 0
    assert cols["zone_id"]["changed"] is None  # a key column: matched on, not compared
    assert cols["revenue"]["base"]["sum"] == pytest.approx(float(revenue))
    assert cols["revenue"]["env"]["sum"] == pytest.approx(float(revenue - gone + 2 + Decimal(10)))
    assert cols["revenue"]["env"]["min"] == 10.0
    assert cols["zone_id"]["env"]["max"] == 99 and cols["zone_id"]["base"]["max"] < 99
    assert cols["tip_share"]["base"] is None and cols["tip_share"]["env"]["nulls"] == 0
    assert not cols["zone_name"]["differs"]
    assert [(s["change"], s["partition"], s["key"]) for s in z["sample"]] == [
        ("removed", "2026-03-02", {"trip_date": "2026-03-02", "zone_id": 3}),
        ("changed", "2026-03-05", {"trip_date": "2026-03-05", "zone_id": 1}),
        ("changed", "2026-03-05", {"trip_date": "2026-03-05", "zone_id": 2}),
        ("added", "2026-03-05", {"trip_date": "2026-03-05", "zone_id": 99})]
    changed = z["sample"][1]
    assert changed["base"] == {"revenue": float(z1)} and changed["env"] == {"revenue": float(z1 + 1)}
    assert z["sample"][0]["env"] is None and z["sample"][0]["base"]["revenue"] == float(gone)
    assert z["sample"][3]["base"] is None and z["sample"][3]["env"]["zone_name"] == "Zone 99"
    # what the environment did not build is production's table: nothing to compare
    assert _asset(doc, "daily_revenue")["status"] == "shared"
    assert _asset(doc, "stg_trips")["env"] == "main.stg_trips"
    assert not any(a["asset"] in ("raw_trips", "zones") for a in doc["assets"])  # sources
    assert doc["summary"]["rows"] == {"added": 1, "removed": 1, "changed": 2}
    assert doc["summary"]["differs"] == 1 and doc["summary"]["shared"] == len(doc["assets"]) - 1

    md = duck("diff", "zone_metrics", "--env", "pr", "--github").stdout
    lines = md.splitlines()
    assert lines[0] == "### duck diff: `pr` against `prod`"
    assert "1 of 1 asset(s) differ." in lines
    assert "#### `zone_metrics`" in lines
    assert ("1 added, 1 removed, 2 changed row(s) in 2 of "
            f"{days} partition(s) (key trip_date, zone_id)") in lines
    assert f"| 2026-03-02 | 0 | 1 | 0 | {rows2} | {rows2 - 1} |" in lines
    assert f"| 2026-03-05 | 1 | 0 | 2 | {rows5} | {rows5 + 1} |" in lines
    assert "Columns: `+ tip_share DOUBLE`" in lines
    assert any(line.startswith(f"| revenue | 2 | 0 | {revenue} → ") for line in lines)
    assert (f"| changed | 2026-03-05 | trip_date=2026-03-05, zone_id=1 | revenue: {z1} → "
            f"{z1 + 1} |") in lines


def test_diff_without_a_key_compares_whole_rows_per_partition(duck, project):
    """regional_revenue has no key: EXCEPT ALL both ways, per region (its static partitions)."""
    apac = _one(project, "SELECT count(*) FROM regional_revenue WHERE region = 'APAC'")
    _sql(project, """
        CREATE SCHEMA main__pr;
        CREATE TABLE main__pr.regional_revenue AS FROM main.regional_revenue;
        DELETE FROM main__pr.regional_revenue WHERE region = 'EMEA'
          AND trip_date = DATE '2026-03-01';
        INSERT INTO main__pr.regional_revenue FROM main.regional_revenue
          WHERE region = 'APAC' AND trip_date = DATE '2026-03-01';
        UPDATE main__pr.regional_revenue SET trips = trips + 1
          WHERE region = 'AMER' AND trip_date = DATE '2026-03-03';
    """)
    doc = _valid(duck.json("diff", "regional_revenue", "--env", "pr"))
    r = _asset(doc, "regional_revenue")
    assert (r["key"], r["partition_column"], r["note"]) == ([], "region", None)
    assert {p["partition"]: (p["added"], p["removed"], p["changed"]) for p in r["partitions"]} \
        == {"AMER": (1, 1, 0), "APAC": (1, 0, 0), "EMEA": (0, 1, 0)}
    assert [p["partition"] for p in r["partitions"]] == ["AMER", "APAC", "EMEA"]
    assert next(p for p in r["partitions"] if p["partition"] == "APAC")["env_rows"] == apac + 1
    assert r["rows"] == {"added": 2, "removed": 2, "changed": 0}
    assert {c["column"]: c["changed"] for c in r["columns"]} == {
        "region": None, "trip_date": None, "trips": None, "revenue": None}
    assert sorted(s["change"] for s in r["sample"]) == ["added", "added", "removed", "removed"]
    out = duck("diff", "regional_revenue", "--env", "pr").stdout
    assert "regional_revenue: 2 added, 2 removed row(s) in 3 of 3 partition(s) (whole rows, " \
           "no key)" in " ".join(out.split())
    md = duck("diff", "regional_revenue", "--env", "pr", "--github").stdout.splitlines()
    assert "| Partition | Added | Removed | Base rows | Env rows |" in md  # no Changed: no key
    assert f"| APAC | 1 | 0 | {apac} | {apac + 1} |" in md


def test_diff_reports_a_retyped_and_a_removed_column(duck, project):
    _sql(project, """
        CREATE SCHEMA main__pr;
        CREATE TABLE main__pr.daily_revenue AS
          SELECT trip_date, CAST(trips AS VARCHAR) AS trips FROM main.daily_revenue;
    """)
    doc = _valid(duck.json("diff", "daily_revenue", "--env", "pr"))
    d = _asset(doc, "daily_revenue")
    assert d["status"] == "differs" and d["partitions"] == []
    assert d["schema_changes"] == [
        {"column": "trips", "change": "retyped", "base_type": "HUGEINT", "env_type": "VARCHAR"},
        {"column": "revenue", "change": "removed", "base_type": "DECIMAL(38,2)", "env_type": None}]
    cols = {c["column"]: c for c in d["columns"]}
    assert cols["trips"]["changed"] == 0  # the same numbers, as text
    assert cols["revenue"]["env"] is None and cols["revenue"]["changed"] is None
    out = " ".join(duck("diff", "daily_revenue", "--env", "pr").stdout.split())
    assert "daily_revenue: no row differs, the columns do (key trip_date)" in out
    assert "Columns: ~ trips HUGEINT → VARCHAR; - revenue DECIMAL(38,2)" in out


def test_diff_exit_codes_and_the_step_summary(duck, project, tmp_path):
    _sql(project, "CREATE SCHEMA main__pr; CREATE TABLE main__pr.daily_revenue AS "
                  "FROM main.daily_revenue;")
    same = duck.json("diff", "--env", "pr", "--fail-on-diff")
    assert _asset(same, "daily_revenue")["status"] == "same" and not same["differs"]
    _sql(project, "DELETE FROM main__pr.daily_revenue WHERE trip_date = DATE '2026-03-04'")
    assert duck("diff", "--env", "pr").exit_code == 0  # a difference is not a failure
    duck("diff", "--env", "pr", "--fail-on-diff", expect=3)
    summary = tmp_path / "summary.md"
    result = duck.runner.invoke(app, ["diff", "--env", "pr", "--github", "-p", str(project)],
                                env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0
    text = summary.read_text()
    assert "#### `daily_revenue`" in text and "| 2026-03-04 | 0 | 1 | 0 | 1 | 0 |" in text
    assert "duck diff: pr against prod" in result.stdout  # the table still on the terminal


def test_diff_of_a_table_only_the_environment_has(duck, project):
    manifest = project / "finance.yaml"
    manifest.write_text(manifest.read_text().replace("products:", """\
  - name: big_days
    kind: table
    deps: [daily_revenue]
    materialize:
      sql: SELECT * FROM daily_revenue WHERE revenue > 7500

products:"""))
    big = _one(project, "SELECT count(*) FROM daily_revenue WHERE revenue > 7500")
    assert duck.json("diff", "--env", "prod", "--base", "pr", expect=2)["error"]["code"] == "usage"
    _sql(project, "CREATE SCHEMA main__pr; CREATE TABLE main__pr.big_days AS "
                  "FROM main.daily_revenue WHERE revenue > 7500;")
    doc = _valid(duck.json("diff", "big_days", "--env", "pr"))
    b = _asset(doc, "big_days")
    assert (b["status"], b["base"], b["env"]) == ("only_env", None, "main__pr.big_days")
    assert b["rows"]["added"] == big and b["partitions"][0]["env_rows"] == big
    assert [c["change"] for c in b["schema_changes"]] == ["added"] * 3


def test_diff_errors_are_one_paragraph_and_exit_2(duck, project):
    no_env = duck("diff", expect=2)
    assert "duck diff needs the environment to compare: --env NAME" in no_env.output
    unknown = duck("diff", "--env", "pr-7", expect=2)
    assert "environment 'pr-7' has no tables in the warehouse (no schema main__pr_7)" in \
        " ".join(unknown.output.split())
    _sql(project, "CREATE SCHEMA main__pr_7;")
    assert "Did you mean 'zone_metrics'" in duck("diff", "zone_metricz", "--env", "pr-7",
                                                 expect=2).output
    manifest = project / "finance.yaml"
    manifest.write_text(manifest.read_text().replace("products:", """\
  - name: not_built
    kind: table
    deps: [daily_revenue]
    materialize:
      sql: SELECT 1 AS one FROM daily_revenue

products:"""))
    err = duck.json("diff", "not_built", "--env", "pr-7", expect=2)["error"]
    assert err["message"] == "asset 'not_built' is built neither in 'pr-7' nor in 'prod'"
    assert err["asset"] == "not_built"
    doc = duck.json("diff", "--env", "pr-7")  # not selected by name: left out, no error
    assert "not_built" not in [a["asset"] for a in doc["assets"]] and not doc["differs"]
    assert duck("diff", "--env", "prod", expect=2).output.count("error:") == 1


def test_a_declared_key_matches_rows_and_a_key_that_repeats_falls_back_to_whole_rows(duck,
                                                                                     project):
    _sql(project, """
        CREATE SCHEMA main__pr;
        CREATE TABLE main__pr.regional_revenue AS FROM main.regional_revenue;
        UPDATE main__pr.regional_revenue SET trips = trips + 1
          WHERE region = 'AMER' AND trip_date = DATE '2026-03-03';
    """)
    manifest = project / "finance.yaml"
    text = manifest.read_text()
    declared = "    deps: [{asset: zone_metrics, mapping: all}, zones]\n"
    manifest.write_text(text.replace(declared, declared + "    key: [region, trip_date]\n"))
    r = _asset(duck.json("diff", "regional_revenue", "--env", "pr"), "regional_revenue")
    assert (r["key"], r["note"]) == (["region", "trip_date"], None)
    assert r["rows"] == {"added": 0, "removed": 0, "changed": 1}
    assert {c["column"]: c["changed"] for c in r["columns"]}["trips"] == 1
    manifest.write_text(text.replace(declared, declared + "    key: [region]\n"))
    r = _asset(duck.json("diff", "regional_revenue", "--env", "pr"), "regional_revenue")
    assert r["key"] == [] and r["note"] == "the key (region) repeats in the base: rows compared whole"
    assert r["rows"] == {"added": 1, "removed": 1, "changed": 0}


@pytest.mark.parametrize("width", [80, 120])
def test_the_tables_fit_the_terminal_and_long_lists_are_capped(project, width):
    days = _one(project, "SELECT count(DISTINCT trip_date) FROM zone_metrics")
    _sql(project, "CREATE SCHEMA main__pr; CREATE TABLE main__pr.zone_metrics AS "
                  "SELECT * REPLACE (revenue + 1 AS revenue) FROM main.zone_metrics;")
    result = CliRunner().invoke(app, ["diff", "--env", "pr", "-p", str(project)],
                                env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= width
    text = " ".join(result.stdout.split())
    rows = _one(project, "SELECT count(*) FROM zone_metrics")
    assert f"zone_metrics: 0 added, 0 removed, {rows} changed row(s) in {days} of {days} " \
           "partition(s) (key trip_date, zone_id)" in text
    assert f"... and {days - 10} more partition(s)" in text
    assert "2026-03-10" in text and "2026-03-11" not in text  # the first ten partitions
    md = CliRunner().invoke(app, ["diff", "--env", "pr", "--github", "-p", str(project)]).stdout
    assert f"… and {days - 10} more partition(s)." in md.splitlines()
    assert md.count("| changed |") == 5  # the sample: five rows


def test_a_relation_duckdb_cannot_read_is_one_paragraph_naming_the_asset(duck, project):
    _sql(project, """
        CREATE SCHEMA main__pr;
        CREATE TABLE main__pr.gone AS SELECT 1 AS x;
        CREATE VIEW main__pr.revenue_summary AS SELECT * FROM main__pr.gone;
        DROP TABLE main__pr.gone;
    """)
    err = duck.json("diff", "revenue_summary", "--env", "pr", expect=2)["error"]
    assert err["asset"] == "revenue_summary" and err["code"] == "state"
    assert err["message"].startswith("cannot compare main.revenue_summary and "
                                     "main__pr.revenue_summary: ")
    assert "LIMIT 1" in err["hint"]
