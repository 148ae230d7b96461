"""Reliability of the recorded state: names duck reserves, ids that never repeat, a warehouse
that changed behind duck's back, a damaged file, a table source not loaded yet.

Each test drives the real CLI against real DuckDB files and asserts what a user sees (exit
code, states, reasons, rows) and that nothing recorded was lost or changed by mistake.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

from conftest import catalog_rows, invoke, warehouse_rows
from reliability_check import check_consistency

ROWS = "SELECT count(*) FROM zone_metrics"


pytestmark = pytest.mark.materialized  # `project`: a copy of the example materialized_example once per worker


def states(root: Path, *args: str) -> dict[str, dict]:
    """`status --json` per asset name."""
    result = invoke(root, "status", "--json", *args)
    return {a["name"]: a for a in json.loads(result.stdout)["assets"]}


def schema_errors(kind: str, doc: dict) -> list[str]:
    """Where ``doc`` breaks the documented schema of `duck KIND --json`."""
    from jsonschema import Draft202012Validator

    path = Path(__file__).resolve().parents[2] / "schemas" / f"{kind}.schema.json"
    return [e.message for e in Draft202012Validator(json.loads(path.read_text()))
            .iter_errors(doc)]


def reasons(asset: dict) -> str:
    return " ".join(r["message"] for r in asset.get("reasons", []))


# -- reserved names ----------------------------------------------------------------------------


def test_an_asset_named_like_a_staging_table_is_refused_and_nothing_is_written(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "m.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: __duck_stage_keep
            kind: table
            materialize: {strategy: table, sql: "SELECT 1 AS id"}
        """))
    for command in ("materialize", "doctor"):
        result = invoke(root, command)
        assert result.exit_code == 2, result.output
        assert "m.yaml:2" in result.output and "reserves" in result.output
    assert not (root / ".duck" / "warehouse.duckdb").exists()


def test_doctor_keeps_every_table_an_asset_may_name(project):
    before = warehouse_rows(project, "SELECT count(*) FROM stg_trips")
    result = invoke(project, "doctor")
    assert result.exit_code == 0 and "consistent" in result.output, result.output
    assert "dropped" not in result.output
    assert warehouse_rows(project, "SELECT count(*) FROM stg_trips") == before


# -- run and backfill ids ----------------------------------------------------------------------


def test_run_ids_never_repeat_after_prune(project):
    assert invoke(project, "materialize", "--force", "stg_trips").exit_code == 0  # r00002
    kept = catalog_rows(project, "SELECT run_id, command, args FROM runs ORDER BY run_id")
    assert invoke(project, "prune", "--keep-runs", "1").exit_code == 0
    left = catalog_rows(project, "SELECT run_id FROM runs")
    assert invoke(project, "materialize", "--force", "zones+").exit_code == 0
    ids = [r[0] for r in catalog_rows(project, "SELECT run_id FROM runs ORDER BY run_id")]
    assert len(ids) == len(set(ids)) and ids[-1] == "r00003", ids
    for run_id, command, args in kept:  # the kept runs' records were not overwritten
        if (run_id,) in left:
            assert catalog_rows(project, "SELECT command, args FROM runs WHERE run_id = ?",
                                [run_id]) == [(command, args)]
    shown = json.loads(invoke(project, "runs", "show", "r00003", "--json").stdout)
    assert {s["asset"] for s in shown["steps"]} == {"regional_revenue"}  # none of r00002's


@pytest.mark.materialized
def test_the_id_of_a_pruned_latest_run_is_never_issued_again(project):
    """The latest run, abandoned before it built anything (its process died), holds nothing
    current: prune deletes it, and the next run still gets a new id."""
    con = duckdb.connect(str(project / ".duck" / "catalog.duckdb"))
    con.execute("INSERT INTO runs (run_id, command, status, started_at, ended_at) VALUES "
                "('r00007', 'materialize', 'abandoned', TIMESTAMPTZ '2026-03-13 05:00:00+00', "
                "TIMESTAMPTZ '2026-03-13 05:01:00+00')")
    con.close()
    assert invoke(project, "prune", "--keep-runs", "0").exit_code == 0
    assert ("r00007",) not in catalog_rows(project, "SELECT run_id FROM runs")
    assert invoke(project, "materialize", "--force", "stg_trips").exit_code == 0
    assert catalog_rows(project, "SELECT max(run_id) FROM runs") == [("r00008",)]


def test_backfill_ids_never_repeat_after_prune(project):
    for _ in range(2):
        done = invoke(project, "backfill", "zone_metrics", "--partition", "2026-03-02")
        assert done.exit_code == 0, done.output
    assert invoke(project, "prune", "--keep-runs", "0").exit_code == 0
    assert invoke(project, "backfill", "zone_metrics", "--partition", "2026-03-03").exit_code == 0
    ids = [r[0] for r in catalog_rows(project, "SELECT backfill_id FROM backfills")]
    assert len(ids) == len(set(ids)) and "b00003" in ids, ids


def test_an_older_catalog_starts_its_counters_above_every_id_ever_issued(project):
    """A catalog from before the counters (schema 2), already pruned: the next run id comes
    after the highest one the warehouse ledger recorded."""
    assert invoke(project, "materialize", "--force", "stg_trips").exit_code == 0  # r00002
    con = duckdb.connect(str(project / ".duck" / "catalog.duckdb"))
    con.execute("DROP TABLE counters")
    con.execute("DELETE FROM runs")
    con.execute("DELETE FROM steps")
    con.execute("DELETE FROM check_results")
    con.execute("UPDATE duck_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    assert invoke(project, "materialize", "--force", "zones+").exit_code == 0
    assert catalog_rows(project, "SELECT run_id FROM runs") == [("r00003",)]


# -- a warehouse that changed behind duck's back -----------------------------------------------


def test_a_deleted_warehouse_is_missing_in_status_and_rebuilt_by_materialize(project):
    rows = warehouse_rows(project, ROWS)
    for f in (project / ".duck").glob("warehouse.duckdb*"):
        f.unlink()
    result = invoke(project, "status", "--fail-on", "stale")
    assert result.exit_code == 3, result.output
    found = states(project)
    assert found["zone_metrics"]["state"] == "missing"
    assert "warehouse file .duck/warehouse.duckdb is missing" in reasons(found["zone_metrics"])
    assert not schema_errors("status", json.loads(invoke(project, "status", "--json").stdout))
    plan = json.loads(invoke(project, "plan", "--json").stdout)
    assert {"stg_trips", "zone_metrics", "daily_revenue"} <= {s["asset"] for s in plan["steps"]}
    assert invoke(project, "materialize").exit_code == 0
    assert warehouse_rows(project, ROWS) == rows
    assert {a["state"] for a in states(project).values()} == {"fresh"}
    assert check_consistency(project) == []


def test_a_replaced_warehouse_is_missing_with_the_reason(project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "m.yaml").write_text("assets:\n  - name: elsewhere\n    materialize: "
                                  "{strategy: table, sql: SELECT 1 AS x}\n")
    assert invoke(other, "materialize").exit_code == 0
    for f in (project / ".duck").glob("warehouse.duckdb*"):
        f.unlink()
    shutil.copy(other / ".duck" / "warehouse.duckdb", project / ".duck" / "warehouse.duckdb")
    found = states(project)
    assert found["zone_metrics"]["state"] == "missing"
    assert "was replaced" in reasons(found["zone_metrics"])
    assert invoke(project, "materialize").exit_code == 0
    assert warehouse_rows(project, ROWS)[0][0] > 1
    assert {a["state"] for a in states(project).values()} == {"fresh"}
    assert check_consistency(project) == []


def test_a_dropped_table_is_missing_planned_and_recorded_as_lost(project):
    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"))
    con.execute("DROP TABLE zone_metrics")
    con.close()
    found = states(project)
    assert found["zone_metrics"]["state"] == "missing"
    assert "its table 'zone_metrics' is missing" in reasons(found["zone_metrics"])
    assert found["stg_trips"]["state"] == "fresh"
    doctor = invoke(project, "doctor", "--json")  # a writer: records the loss in the catalog
    assert "no longer holds zone_metrics" in doctor.output, doctor.output
    assert not schema_errors("doctor", json.loads(doctor.stdout))
    assert catalog_rows(project, "SELECT count(*) FROM materializations WHERE kind = 'lost' "
                                 "AND asset = 'zone_metrics'")[0][0] == 12
    steps = json.loads(invoke(project, "plan", "--json").stdout)["steps"]
    assert steps[0]["asset"] == "zone_metrics" and "stg_trips" not in {s["asset"] for s in steps}
    assert invoke(project, "materialize").exit_code == 0
    assert warehouse_rows(project, ROWS)[0][0] > 0
    assert {a["state"] for a in states(project).values()} == {"fresh"}


def test_doctor_reads_every_table_and_reports_a_damaged_warehouse(project):
    path = project / ".duck" / "warehouse.duckdb"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2 - 100_000)
        f.write(os.urandom(200_000))
    damaged = path.read_bytes()
    result = invoke(project, "doctor")
    assert result.exit_code == 1, result.output
    assert "damaged" in result.output and "Restore it from a backup" in result.output
    assert "catalog and warehouse agree" not in result.output
    assert path.read_bytes() == damaged  # doctor changed nothing


def test_doctor_fix_rebuilds_an_unreadable_catalog_from_the_ledger(project):
    published = warehouse_rows(project, 'SELECT count(*) FROM "_duck"."ledger"')[0][0]
    catalog = project / ".duck" / "catalog.duckdb"
    catalog.write_bytes(b"not a duckdb file\x00" * 400)
    refused = invoke(project, "doctor")
    assert refused.exit_code == 2 and "duck doctor --fix" in refused.output, refused.output
    fixed = invoke(project, "doctor", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert "rebuilt it from the warehouse ledger" in fixed.output
    assert len(list((project / ".duck").glob("catalog.duckdb.broken-*"))) == 1
    assert catalog_rows(project, "SELECT count(*) FROM materializations")[0][0] == published
    assert {a["state"] for a in states(project).values()} == {"fresh"}
    assert check_consistency(project) == []


# -- a table source that has not been loaded yet -----------------------------------------------

TABLE_SOURCE = """\
assets:
  - name: feed
    kind: source
    source: {table: feed_not_loaded_yet}
  - name: from_feed
    deps: [feed]
    materialize: {strategy: table, sql: "SELECT * FROM feed"}
  - name: independent_asset
    materialize: {strategy: table, sql: "SELECT 1 AS id"}
"""


def test_a_table_source_not_loaded_yet_holds_back_only_its_readers(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "m.yaml").write_text(TABLE_SOURCE)
    only = invoke(root, "materialize", "independent_asset")
    assert only.exit_code == 0 and "CatalogException" not in only.output, only.output
    result = invoke(root, "materialize")
    assert result.exit_code == 0, result.output
    assert "blocked" in result.output and "source has not arrived" in result.output
    found = states(root)
    assert found["independent_asset"]["state"] == "fresh"
    assert found["feed"]["state"] == "missing" and found["from_feed"]["state"] == "missing"
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"))
    con.execute("CREATE TABLE feed_not_loaded_yet AS SELECT 7 AS v")
    con.close()
    assert invoke(root, "materialize").exit_code == 0
    assert warehouse_rows(root, "SELECT v FROM from_feed") == [(7,)]
