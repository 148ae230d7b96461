"""Every --json document matches its JSON Schema in schemas/, checked on real output of the
example project in realistic states: fresh, materialized, a failing check, a missing source
file, a backfill, invalid manifests. The schemas are strict: unknown nested keys, unknown
states and missing keys are errors; the test also requires every top-level key to be declared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from conftest import append_duplicate_trip, ROOT, Duck, add_checks_on_published_data, example_copy
from duck_cli.cli.app import app

SCHEMAS = ROOT / "schemas"
KINDS = ("validate", "graph", "plan", "run", "status", "why", "runs", "run_detail", "check",
         "backfills", "init", "prune", "doctor", "report", "error", "diff", "env_list",
         "env_drop", "promote", "migrate")


def _schema(kind: str) -> dict:
    return json.loads((SCHEMAS / f"{kind}.schema.json").read_text())


def _errors(doc: dict) -> list[str]:
    validator = Draft202012Validator(_schema(doc["kind"]), format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def conforms(doc: dict, kind: str) -> dict:
    """Assert ``doc`` is a valid ``kind`` document whose top-level keys are all documented."""
    assert doc["kind"] == kind and doc["schema_version"] == 1
    errors = _errors(doc)
    assert not errors, "\n".join(errors[:20])
    undocumented = set(doc) - set(_schema(kind)["properties"])
    assert not undocumented, f"{kind} keys missing from its schema: {sorted(undocumented)}"
    return doc


# -- the schema files themselves -------------------------------------------------------------


def test_there_is_one_schema_per_document_kind():
    found = {p.name.split(".")[0] for p in SCHEMAS.glob("*.schema.json")}
    assert found - {"manifest", "settings"} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_schema_is_draft_2020_12_with_version_and_kind(kind):
    schema = _schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{kind}.schema.json")
    assert schema["properties"]["kind"] == {"const": kind}
    assert schema["properties"]["schema_version"]["const"] == 1
    assert {"schema_version", "kind"} <= set(schema["required"])
    assert f"duck schema {kind}" in schema["description"]


@pytest.mark.parametrize("kind", KINDS)
def test_duck_schema_prints_each_document_schema(kind):
    result = CliRunner().invoke(app, ["schema", kind])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == _schema(kind)


def _nested_objects(node, path="#"):
    if isinstance(node, dict):
        if node.get("type") == "object" and path != "#":
            yield path, node
        for key, value in node.items():
            yield from _nested_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _nested_objects(value, f"{path}/{n}")


@pytest.mark.parametrize("kind", KINDS)
def test_nested_objects_are_closed_or_maps(kind):
    """Only the top level may grow: every nested object lists its keys (or is a typed map)."""
    for path, node in _nested_objects(_schema(kind)):
        if path.endswith("/sample/items"):
            continue  # a failing row: the checked table's own columns
        assert node.get("additionalProperties") is False or \
            isinstance(node.get("additionalProperties"), dict), path
        if "properties" in node:
            assert set(node.get("required", [])) <= set(node["properties"]), path


def test_the_schemas_reject_what_they_should():
    ok = {"schema_version": 1, "kind": "doctor", "ok": True,
          "findings": [{"level": "ok", "code": "consistent", "message": "fine"}]}
    assert not _errors(ok)
    assert _errors({**ok, "schema_version": 2})
    assert _errors({**ok, "findings": [{"level": "meh", "code": "x", "message": "m"}]})
    assert _errors({**ok, "findings": [{"level": "ok", "code": "x", "message": "m", "extra": 1}]})
    assert _errors({k: v for k, v in ok.items() if k != "ok"})
    run = {"run_id": "r00001", "command": "materialize", "status": "succeeded",
           "started_at": "2026-03-13T06:30:00+00:00", "ended_at": None, "pid": 1, "host": "h",
           "args": "", "backfill_id": None, "error": None}
    assert _errors({"schema_version": 1, "kind": "runs", "runs": [run]})  # not a status
    run["status"] = "success"
    assert not _errors({"schema_version": 1, "kind": "runs", "runs": [run]})
    run["started_at"] = "yesterday"
    assert _errors({"schema_version": 1, "kind": "runs", "runs": [run]})


# -- real documents --------------------------------------------------------------------------


def test_documents_of_a_fresh_project(duck):
    conforms(duck.json("validate"), "validate")
    conforms(duck.json("graph"), "graph")
    conforms(duck.json("graph", "+daily_revenue", "--health"), "graph")
    plan = conforms(duck.json("plan"), "plan")
    assert plan["steps"] and plan["command"] == "plan"
    status = conforms(duck.json("status"), "status")
    assert status["summary"]["missing"] == 7  # stg_trips, zone_metrics, daily_revenue, regional_revenue, revenue_summary, revenue_forecast, revenue_chart
    conforms(duck.json("status", "zone_metrics", "--partitions"), "status")
    conforms(duck.json("why", "daily_revenue"), "why")
    conforms(duck.json("why", "daily_revenue", "--partition", "2026-03-12"), "why")
    product = conforms(duck.json("why", "revenue_dashboard"), "why")
    assert product["target_type"] == "product"
    conforms(duck.json("reconcile"), "plan")
    conforms(duck.json("backfill", "zone_metrics", "--from", "2026-03-01", "--to", "2026-03-03",
                       "--dry-run"), "plan")
    assert conforms(duck.json("runs"), "runs")["runs"] == []
    assert conforms(duck.json("backfills"), "backfills")["backfills"] == []
    assert conforms(duck.json("check"), "check")["results"] == []
    assert conforms(duck.json("doctor"), "doctor")["ok"] is True


def test_documents_after_materialize(duck):
    run = conforms(duck.json("materialize"), "run")
    assert run["status"] == "success" and run["summary"]["failed"] == 0
    assert any(s["checks"] for s in run["steps"])
    assert conforms(duck.json("plan"), "plan")["empty"] is True
    status = conforms(duck.json("status"), "status")
    assert {a["state"] for a in status["assets"]} == {"fresh"}
    assert status["assets"][2]["last_materialization"]["kind"] == "materialization"
    conforms(duck.json("status", "regional_revenue", "--partitions"), "status")
    conforms(duck.json("status", "revenue_summary", "--partitions"), "status")
    why = conforms(duck.json("why", "revenue_summary"), "why")
    assert why["next_action"]["action"] == "none"
    conforms(duck.json("graph", "--health"), "graph")
    runs = conforms(duck.json("runs"), "runs")
    assert [r["run_id"] for r in runs["runs"]] == [run["run_id"]]
    detail = conforms(duck.json("runs", "show", run["run_id"]), "run_detail")
    assert detail["checks"] and detail["run"]["status"] == "success"
    check = conforms(duck.json("check"), "check")
    assert check["passed"] and check["results"]
    assert conforms(duck.json("reconcile", "--apply"), "run")["steps"] == []
    conforms(duck.json("prune", "--keep-runs", "1"), "prune")
    conforms(duck.json("doctor"), "doctor")


@pytest.mark.materialized
def test_documents_after_a_failing_check(duck, project):
    append_duplicate_trip(project)
    run = conforms(duck.json("materialize", expect=1), "run")
    failed = [s for s in run["steps"] if s["status"] == "failed"]
    assert failed[0]["asset"] == "stg_trips" and failed[0]["error_kind"] == "check"
    bad = [c for c in failed[0]["checks"] if not c["passed"]]
    assert bad[0]["name"] == "one_row_per_trip" and bad[0]["sample"]
    assert all(s["status"] == "skipped" for s in run["steps"][1:])
    status = conforms(duck.json("status"), "status")
    stg = next(a for a in status["assets"] if a["name"] == "stg_trips")
    assert stg["state"] == "failed" and stg["checks"]["failing"] == ["one_row_per_trip"]
    conforms(duck.json("status", "stg_trips", "--partitions"), "status")
    why = conforms(duck.json("why", "stg_trips"), "why")
    assert why["state"] == "failed"
    assert _errors({**why, "questions": why["questions"][::-1]})  # the order is the contract
    assert _errors({**why, "questions": why["questions"][:4]})
    conforms(duck.json("why", "stg_trips", "--partition", "2026-03-09"), "why")
    conforms(duck.json("why", "revenue_dashboard"), "why")
    held = conforms(duck.json("reconcile"), "plan")["held"]
    assert ("stg_trips", "unfixable") in [(h["asset"], h["status"]) for h in held]
    conforms(duck.json("reconcile", "--retry-failed"), "plan")
    detail = conforms(duck.json("runs", "show", run["run_id"]), "run_detail")
    assert detail["run"]["status"] == "failed"
    assert conforms(duck.json("runs"), "runs")["runs"][0]["status"] == "failed"


@pytest.mark.materialized
def test_check_documents_with_failing_and_warning_checks(duck, project):
    add_checks_on_published_data(project)
    doc = conforms(duck.json("check", "stg_trips", "--partition", "2026-03-09", expect=1),
                   "check")
    outcome = {r["name"]: (r["passed"], r["severity"]) for r in doc["results"]}
    assert outcome["short_trips"] == (False, "error")
    assert outcome["cheap_trips"] == (False, "warn")
    assert doc["passed"] is False
    status = conforms(duck.json("status", "stg_trips"), "status")
    assert status["assets"][0]["checks"]["failed"] >= 1


def test_documents_with_a_missing_source_file(duck, project):
    (project / "data" / "trips" / "2026-03-12.csv").unlink()
    status = conforms(duck.json("status"), "status")
    raw = next(a for a in status["assets"] if a["name"] == "raw_trips")
    assert raw["state"] == "missing" and raw["reasons"][0]["code"] == "source_missing"
    plan = conforms(duck.json("reconcile"), "plan")
    blocked = [h for h in plan["held"] if h["status"] != "fresh"]
    assert blocked and {h["blocker"]["reason"] for h in blocked} == {"source_missing"}
    run = conforms(duck.json("reconcile", "--apply"), "run")
    assert run["status"] == "success" and any(h["status"] != "fresh" for h in run["held"])
    status = conforms(duck.json("status"), "status")
    dr = next(a for a in status["assets"] if a["name"] == "daily_revenue")
    assert dr["blockers"][0]["reason"] == "source_missing"
    why = conforms(duck.json("why", "revenue_dashboard"), "why")
    assert why["next_action"]["action"] == "wait_for_source"
    conforms(duck.json("why", "daily_revenue", "--partition", "2026-03-12"), "why")
    conforms(duck.json("plan"), "plan")


@pytest.mark.materialized
def test_backfill_documents(duck):
    run = conforms(duck.json("backfill", "zone_metrics", "--from", "2026-03-01", "--to",
                             "2026-03-03", "--downstream"), "run")
    assert run["backfill_id"] and run["status"] == "success"
    listed = conforms(duck.json("backfills"), "backfills")["backfills"]
    assert listed[0]["backfill_id"] == run["backfill_id"]
    assert listed[0]["runs"] == [{"run_id": run["run_id"], "status": "success"}]
    conforms(duck.json("backfill", "zone_metrics", "--missing", "--dry-run"), "plan")
    assert conforms(duck.json("runs"), "runs")["runs"][0]["backfill_id"] == run["backfill_id"]


def test_validate_documents_with_warnings_and_errors(duck, project):
    finance = project / "finance.yaml"
    finance.write_text(finance.read_text().replace("deps: [daily_revenue]",
                                                   "deps: [daily_revenue, zones]"))
    doc = conforms(duck.json("validate"), "validate")
    assert doc["valid"] and [p["severity"] for p in doc["problems"]] == ["warning"]
    mobility = project / "mobility.yaml"
    mobility.write_text(mobility.read_text().replace("deps: [stg_trips]", "deps: [stg_trip]"))
    doc = conforms(duck.json("validate", expect=2), "validate")
    assert not doc["valid"] and doc["problems"][0]["file"] == "mobility.yaml"
    assert doc["problems"][0]["line"] > 0


def test_report_document(tmp_path):
    root = example_copy(tmp_path / "p")
    duck = Duck(root)
    duck("materialize")
    doc = conforms(duck.json("report", "--html", str(tmp_path / "site")), "report")
    assert doc["counts"]["asset_pages"] == doc["counts"]["assets"] == 9
    assert (tmp_path / "site" / doc["pages"][0]).is_file()


def test_init_document(tmp_path):
    result = CliRunner().invoke(app, ["init", str(tmp_path / "new"), "--json"])
    assert result.exit_code == 0, result.output
    doc = conforms(json.loads(result.stdout), "init")
    assert all(Path(f).exists() for f in doc["files"])


def test_unpartitioned_project_documents(tmp_path):
    """The `duck init` scaffold: nothing partitioned, a max_lag freshness policy."""
    CliRunner().invoke(app, ["init", str(tmp_path / "p")])
    duck = Duck(tmp_path / "p")
    conforms(duck.json("status"), "status")
    conforms(duck.json("materialize"), "run")
    conforms(duck.json("status", "stg_orders", "--partitions"), "status")
    conforms(duck.json("why", "revenue_by_customer"), "why")
    conforms(duck.json("check"), "check")
    later = Duck(tmp_path / "p", now="2026-03-15T07:30:00+01:00")
    status = conforms(later.json("status"), "status")
    assert status["assets"][-1]["freshness"]["state"] == "stale"
    conforms(later.json("why", "revenue_by_customer"), "why")


# -- the error document: every command given --json answers on stdout, also when it fails ------


def failed_doc(result, code: int, error_code: str) -> dict:
    """The error document of a failed command: valid, with its exit code and the stderr paragraph."""
    assert result.exit_code == code, (result.exit_code, result.output)
    doc = conforms(json.loads(result.stdout), "error")
    assert doc["error"]["code"] == error_code and doc["error"]["exit_code"] == code
    assert result.stdout.count("\n") == 1  # one document, nothing else on stdout
    return doc["error"]


def test_validate_on_invalid_manifests_carries_the_error_object(duck, project):
    mobility = project / "mobility.yaml"
    mobility.write_text(mobility.read_text().replace("deps: [stg_trips]", "deps: [stg_trip]"))
    result = duck("validate", "--json", expect=2)
    doc = conforms(json.loads(result.stdout), "validate")
    assert doc["valid"] is False
    error = doc["error"]
    assert error["code"] == "invalid_manifest" and error["exit_code"] == 2
    assert error["file"] == "mobility.yaml" and error["line"] > 0
    assert "stg_trip" in error["message"] and "Did you mean 'stg_trips'?" in error["hint"]
    assert "error: mobility.yaml:" in result.stderr  # people still read the paragraph
    # any other command on the same manifests answers with the error document
    error = failed_doc(duck("status", "--json", expect=None), 2, "invalid_manifest")
    assert error["file"] == "mobility.yaml" and error["line"] > 0


def test_several_manifest_problems_are_all_in_the_error_document(duck, project):
    mobility = project / "mobility.yaml"
    mobility.write_text(mobility.read_text().replace("deps: [stg_trips]", "deps: [stg_trip]")
                        .replace("deps: [raw_trips]", "deps: [raw_trip]"))
    error = failed_doc(duck("plan", "--json", expect=None), 2, "invalid_manifest")
    assert len(error["problems"]) >= 2
    assert {p["file"] for p in error["problems"]} == {"mobility.yaml"}
    assert error["message"] == error["problems"][0]["message"]


def test_status_on_an_unknown_asset_says_did_you_mean_in_the_hint(duck):
    result = duck("status", "daily_revenu", "--json", expect=None)
    error = failed_doc(result, 2, "usage")
    assert error["message"] == "no asset named 'daily_revenu'"
    assert error["hint"] == "Did you mean 'daily_revenue'?"
    assert "error: no asset named 'daily_revenu'. Did you mean 'daily_revenue'?" in result.stderr
    graph = failed_doc(duck("graph", "daily_revenu", "--format", "json", expect=None), 2, "usage")
    assert graph["hint"] == "Did you mean 'daily_revenue'?"


def test_materialize_on_a_locked_project_exits_4_with_the_error_document(duck, project):
    from datetime import datetime, timezone

    from duck_cli.manifest.settings import load_settings
    from duck_cli.state.backends import write_lock

    with write_lock(load_settings(project), "backfill", wait=0, now=datetime.now(timezone.utc)):
        result = duck("materialize", "--wait", "0", "--json", expect=None)
    error = failed_doc(result, 4, "locked")
    assert "locked by `duck backfill`" in error["message"]
    assert "--wait" in error["hint"]
    assert "locked by `duck backfill`" in result.stderr
    assert conforms(duck.json("runs"), "runs")["runs"] == []  # nothing ran


def test_backfill_with_a_bad_partition_key_names_the_asset_and_the_key(duck):
    result = duck("backfill", "zone_metrics", "--partition", "2026-02-30", "--json", expect=None)
    error = failed_doc(result, 2, "bad_partition_key")
    assert error["asset"] == "zone_metrics" and error["partition"] == "2026-02-30"
    assert "is not a real date" in error["message"] and "2026-03-01" in error["hint"]


@pytest.mark.parametrize("args, words", [
    (("materialize", "--jobs", "0"), "Invalid value for '--jobs'"),
    (("status", "--no-such-option"), "No such option: --no-such-option"),
    (("backfill", "zone_metrics", "--batch-size", "x"), "'x' is not a valid int"),
])
def test_usage_errors_of_the_command_line_with_json(duck, args, words):
    result = duck(*args, "--json", expect=None)
    error = failed_doc(result, 2, "usage")
    assert words in error["message"] and f" {args[0]} --help`" in error["hint"]
    assert "Usage: " in result.stderr and words in result.stderr  # click's own words for people


def test_without_json_a_failure_leaves_stdout_empty(duck):
    result = duck("status", "daily_revenu", expect=2)
    assert result.stdout == "" and "Did you mean 'daily_revenue'?" in result.stderr
    result = duck("materialize", "--jobs", "0", expect=2)
    assert result.stdout == ""


def test_runs_show_and_a_bad_clock_answer_with_error_documents(duck):
    error = failed_doc(duck("runs", "show", "r99999", "--json", expect=None), 2, "usage")
    assert error["message"] == "no run 'r99999'" and "duck runs" in error["hint"]
    error = failed_doc(duck("why", "daily_revenue", "--json", now="yesterday", expect=None), 2,
                       "usage")
    assert "DUCK_NOW" in error["message"] and "ISO 8601" in error["hint"]


def test_the_error_schema_rejects_what_it_should():
    ok = {"schema_version": 1, "kind": "error",
          "error": {"code": "usage", "message": "m", "file": None, "line": None, "asset": None,
                    "partition": None, "hint": None, "exit_code": 2}}
    assert not _errors(ok)
    assert _errors({**ok, "error": {**ok["error"], "code": "Not Snake"}})
    assert _errors({**ok, "error": {**ok["error"], "line": 0}})
    assert _errors({**ok, "error": {k: v for k, v in ok["error"].items() if k != "hint"}})
    assert _errors({**ok, "error": {**ok["error"], "extra": 1}})
