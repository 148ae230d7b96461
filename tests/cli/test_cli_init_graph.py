"""`duck init` (a scaffold that runs at once), `duck graph` in every format with health colours,
and `duck schema` (the manifest schema for editors, the --json documents' schemas)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from conftest import MORNING, ROOT, Duck
from duck_cli.cli.app import app
from conftest import append_duplicate_trip

EDGES = {("raw_trips", "stg_trips"), ("stg_trips", "zone_metrics"),
         ("zone_metrics", "daily_revenue"), ("zone_metrics", "regional_revenue"),
         ("zones", "regional_revenue"), ("daily_revenue", "revenue_summary"),
         ("daily_revenue", "revenue_forecast"), ("daily_revenue", "revenue_chart"),
         ("revenue_forecast", "revenue_chart")}


def run(*args: str, expect: int = 0, env: dict | None = None):
    result = CliRunner().invoke(app, list(args), env={"DUCK_NOW": MORNING, **(env or {})},
                                catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.output)
    return result


# -- duck init -----------------------------------------------------------------------------


def test_init_then_materialize_then_everything_is_fresh(tmp_path):
    target = tmp_path / "my_project"
    out = run("init", str(target)).stdout
    assert f"Next: duck materialize -p {target}" in out
    for name in ("duck.yaml", "assets.yaml", "data/orders.csv", "manifest.schema.json"):
        assert (target / name).is_file(), name
    first = (target / "assets.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=manifest.schema.json"
    assert json.loads((target / "manifest.schema.json").read_text()) == \
        json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    run("validate", "-p", str(target))
    result = run("materialize", "-p", str(target), "--no-progress")
    assert "2 succeeded, 0 failed" in result.stdout  # the source is observed, not built
    duck = Duck(target)
    status = duck.json("status")
    assert {a["state"] for a in status["assets"]} == {"fresh"}
    assert status["summary"] == {"assets": 3, "fresh": 3, "stale": 0, "missing": 0, "failed": 0,
                                 "warn": 0}
    assert duck("status", "--fail-on", "stale", "--fail-on", "failed").exit_code == 0
    assert duck.json("plan")["empty"] is True
    assert duck.json("check")["passed"] is True
    assert (target / ".duck" / "warehouse.duckdb").is_file()


def test_init_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init")
    assert (tmp_path / "assets.yaml").is_file()
    run("materialize", "--no-progress")


def test_init_refuses_to_overwrite(tmp_path):
    target = tmp_path / "p"
    target.mkdir()
    (target / "assets.yaml").write_text("# mine\n")
    result = run("init", str(target), expect=2)
    assert "assets.yaml already exists" in result.stderr
    assert "empty folder" in result.stderr
    assert (target / "assets.yaml").read_text() == "# mine\n"
    assert not (target / "duck.yaml").exists()  # nothing half-written
    run("init", str(tmp_path / "q"))
    assert "already exists" in run("init", str(tmp_path / "q"), expect=2).stderr


# -- duck graph ----------------------------------------------------------------------------


def test_graph_tree_with_selection(duck):
    out = duck("graph").stdout
    assert out.splitlines()[0] == "9 assets"
    assert "raw_trips source, team:ingest" in out
    assert "revenue_summary view, team:finance" in out
    up = duck("graph", "+daily_revenue").stdout
    assert up.splitlines()[0] == "4 assets"
    assert "regional_revenue" not in up and "zones" not in up
    down = duck("graph", "zone_metrics+").stdout
    assert down.splitlines()[0] == "6 assets" and "stg_trips" not in down
    assert duck("graph", "tag:revenue").stdout.splitlines()[0] == "4 assets"


def test_graph_mermaid(duck):
    out = duck("graph", "--format", "mermaid").stdout
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "flowchart LR"
    assert "raw_trips[(raw_trips)]" in lines and "zones[(zones)]" in lines  # sources: cylinders
    assert "zone_metrics[zone_metrics]" in lines
    edges = {tuple(line.split(" --> ")) for line in lines if " --> " in line}
    assert edges == EDGES
    assert "classDef" not in out  # colours only with --health


def test_graph_mermaid_health_colours(duck, project):
    out = duck("graph", "--format", "mermaid", "--health").stdout
    assert "classDef missing fill:#c62828,color:#fff" in out
    assert re.search(r"class [a-z_,]*stg_trips[a-z_,]* missing", out)
    assert re.search(r"class raw_trips,zones fresh", out)
    duck("materialize")
    append_duplicate_trip(project)
    duck("materialize", expect=1)
    out = duck("graph", "--format", "mermaid", "--health").stdout
    assert "classDef failed fill:#b71c1c,color:#fff" in out
    assert "class stg_trips failed" in out
    assert "missing" not in out


def test_graph_dot(duck):
    out = duck("graph", "--format", "dot").stdout
    assert out.startswith("digraph duck {") and out.rstrip().endswith("}")
    edges = set(re.findall(r'"(\w+)" -> "(\w+)";', out))
    assert edges == EDGES
    assert '"raw_trips" [label="raw_trips\\nsource", shape=cylinder];' in out
    assert "fillcolor" not in out


@pytest.mark.materialized
def test_graph_dot_health_colours(duck):
    out = duck("graph", "zone_metrics+", "--format", "dot", "--health").stdout
    assert out.count('fillcolor="#2e7d32"') == 6  # every selected asset is fresh
    assert "stg_trips" not in out


def test_graph_json_matches_the_format_option(duck):
    doc = duck.json("graph")
    same = json.loads(duck("graph", "--format", "json").stdout)
    assert doc == same
    assert [n["name"] for n in doc["nodes"]] == ["raw_trips", "zones", "stg_trips",
                                                 "zone_metrics", "daily_revenue",
                                                 "regional_revenue", "revenue_forecast",
                                                 "revenue_summary", "revenue_chart"]
    assert {(e["from"], e["to"]) for e in doc["edges"]} == EDGES
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["stg_trips"]["location"] == "mobility.yaml:4"
    assert nodes["regional_revenue"]["partitions"] == "static"
    assert nodes["zone_metrics"]["state"] == "missing"
    assert doc["products"] == [{"name": "revenue_dashboard",
                                "assets": ["daily_revenue", "revenue_summary"]}]
    sub = duck.json("graph", "daily_revenue+")
    assert {(e["from"], e["to"]) for e in sub["edges"]} == {
        ("daily_revenue", "revenue_summary"), ("daily_revenue", "revenue_forecast"),
        ("daily_revenue", "revenue_chart"), ("revenue_forecast", "revenue_chart")}


def test_graph_tree_health_colours(duck, project, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    duck("materialize")
    append_duplicate_trip(project)
    duck("materialize", expect=1)
    out = duck("graph", "+zone_metrics", "--health").stdout
    assert re.search(r"stg_trips .*\x1b\[1;31mfailed\x1b\[0m", out)
    assert re.search(r"zone_metrics .*\x1b\[32mfresh\x1b\[0m", out)
    plain = duck("graph", "+zone_metrics").stdout
    assert "fresh" not in plain and "failed" not in plain


def test_graph_unknown_format_is_a_usage_error(duck):
    result = duck("graph", "--format", "svg", expect=2)
    assert "unknown graph format 'svg'" in result.stderr


# -- duck schema ---------------------------------------------------------------------------


def test_schema_prints_the_manifest_schema():
    out = run("schema").stdout
    schema = json.loads(out)
    assert schema == json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    assert schema["title"] == "duck manifest"
    assert json.loads(run("schema", "manifest").stdout) == schema


def test_schema_prints_a_document_schema():
    schema = json.loads(run("schema", "status").stdout)
    assert schema["properties"]["kind"] == {"const": "status"}
    assert schema == json.loads((ROOT / "schemas" / "status.schema.json").read_text())


def test_schema_unknown_name_lists_the_known_ones():
    result = run("schema", "nope", expect=2)
    assert "no schema named 'nope'" in result.stderr
    for name in ("manifest", "status", "run", "why"):
        assert name in result.stderr


def test_init_keeps_the_state_folder_out_of_git(tmp_path):
    target = tmp_path / "fresh"
    out = run("init", str(target)).stdout
    assert (target / ".gitignore").read_text().splitlines()[-1] == ".duck/"
    assert f"created {target / '.gitignore'}" in out
    existing = tmp_path / "repo"
    existing.mkdir()
    (existing / ".gitignore").write_text("*.pyc")
    run("init", str(existing))
    assert (existing / ".gitignore").read_text().splitlines() == [
        "*.pyc", "# duck's warehouse and state catalog (duck init)", ".duck/"]
    run("materialize", "-p", str(existing), "--no-progress")
    assert (existing / ".duck").is_dir()


def test_mermaid_ids_are_safe_for_mermaid_keywords(tmp_path):
    target = tmp_path / "kw"
    target.mkdir()
    (target / "m.yaml").write_text("assets:\n" + "".join(
        f"  - name: {n}\n    kind: view\n"
        + (f"    deps: [{up}]\n" if up else "")
        + "    materialize: {strategy: view, sql: 'select 1 as x'}\n"
        for n, up in [("graph", None), ("end", "graph"), ("style", "end"), ("class", "end"),
                      ("click", "style"), ("subgraph", "click")]))
    out = run("graph", "-p", str(target), "--format", "mermaid").stdout.splitlines()
    assert out[0] == "flowchart LR"
    assert "    asset_end[end]" in out and "    asset_graph --> asset_end" in out
    assert "    asset_click --> asset_subgraph" in out and "    asset_style[style]" in out
    keywords = {"end", "graph", "style", "class", "click", "subgraph"}
    for line in out[1:]:  # no bare keyword as a node id
        assert not keywords & {w.split("[")[0] for w in line.split()}, line
