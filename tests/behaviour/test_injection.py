"""Nothing a user types reaches SQL as text: partition keys, selections, run ids, asset names.

Hostile input is refused (exit 2) and the warehouse's tables and data stay exactly as they were;
legitimate static partition values that contain quotes, semicolons and comment markers are bound
as values and land in the data verbatim.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

from typer.testing import CliRunner

from conftest import built_example, catalog_rows, invoke, run_count
from duck_cli.cli.app import app

HOSTILE_KEYS = [
    "2026-03-01'; DROP TABLE stg_trips; --",
    "2026-03-01' OR '1'='1",
    '2026-03-01"; DELETE FROM _duck.ledger; --',
    "2026-03-01/*",
    "2026-03-01 --",
    "2026-03-01\n; DROP TABLE zone_metrics",
    "APAC'); DROP TABLE regional_revenue; --",
    "$partition_key",
    "{this}",
]
HOSTILE_SELECTIONS = [
    "stg_trips; DROP TABLE stg_trips",
    "stg_trips'--",
    "tag:revenue' OR 1=1 --",
    "owner:team:finance'; DELETE FROM zone_metrics; --",
    'kind:table"; DROP TABLE daily_revenue; --',
    "zone_*'; --",
    "+daily_revenue/**/",
]


def fingerprint(root: Path) -> dict:
    """Every table and view in the warehouse (all schemas) with its row count and content hash."""
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=True)
    try:
        rels = con.execute("SELECT table_schema, table_name, table_type FROM "
                           "information_schema.tables ORDER BY ALL").fetchall()
        out = {}
        for schema, name, kind in rels:
            if kind == "BASE TABLE":
                out[(schema, name)] = con.execute(
                    f'SELECT count(*), sum(hash(t)) FROM "{schema}"."{name}" t').fetchone()
            else:
                out[(schema, name)] = kind
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return built_example(tmp_path_factory, "inj")


@pytest.fixture
def project(built) -> Path:
    """The built project, shared: every test asserts that it leaves it exactly as it was."""
    return built


@pytest.fixture
def own_copy(built, tmp_path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built, root)
    return root


KEY_COMMANDS = [("backfill", "+daily_revenue", "--partition", "{key}"),
                ("backfill", "zone_metrics", "--from", "{key}", "--to", "2026-03-02"),
                ("plan", "daily_revenue", "--partition", "{key}", "--force"),
                ("check", "zone_metrics", "--partition", "{key}"),
                ("why", "daily_revenue", "--partition", "{key}"),
                ("materialize", "regional_revenue", "--partition", "{key}"),
                ("materialize", "zone_metrics", "--to", "{key}")]


@pytest.mark.parametrize("index", range(len(HOSTILE_KEYS)))
def test_hostile_partition_keys_are_refused_and_change_nothing(project, index):
    """Each key through materialize, and through two of the other commands that take keys."""
    key = HOSTILE_KEYS[index]
    before, runs = fingerprint(project), run_count(project)
    others = [KEY_COMMANDS[(2 * index + i) % len(KEY_COMMANDS)] for i in (0, 1)]
    for template in [("materialize", "stg_trips", "--partition", "{key}"), *others]:
        args = [a.replace("{key}", key) if a == "{key}" else a for a in template]
        result = invoke(project, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "partition" in result.output.lower(), (args, result.output)
    assert fingerprint(project) == before
    assert run_count(project) == runs


SELECTION_COMMANDS = ["plan", "status", "reconcile", "check", "graph", "why"]


@pytest.mark.parametrize("index", range(len(HOSTILE_SELECTIONS)))
def test_hostile_selections_are_refused_and_change_nothing(project, index):
    """Each selection through materialize and backfill, and through two reading commands."""
    selection = HOSTILE_SELECTIONS[index]
    before, runs = fingerprint(project), run_count(project)
    result = invoke(project, "materialize", selection)
    assert result.exit_code == 2, result.output
    assert "no asset" in result.output or "matches no asset" in result.output, result.output
    result = invoke(project, "backfill", selection, "--partition", "2026-03-01")
    assert result.exit_code == 2, result.output
    for i in (0, 1):
        command = SELECTION_COMMANDS[(2 * index + i) % len(SELECTION_COMMANDS)]
        result = invoke(project, command, selection)
        assert result.exit_code == 2, (command, result.output)
        assert "no asset" in result.output or "matches no asset" in result.output, result.output
    assert fingerprint(project) == before
    assert run_count(project) == runs


def test_hostile_run_and_backfill_ids_find_nothing(project):
    before = fingerprint(project)
    for run_id in ("r00001' OR '1'='1", "%", "r%", "'; DROP TABLE runs; --"):
        result = invoke(project, "runs", "show", run_id)
        assert result.exit_code == 2 and "no run" in result.output, result.output
    doc = invoke(project, "runs", "--asset", "x' OR 1=1 --", "--json")
    assert doc.exit_code == 2 and "unknown asset" in doc.output
    assert json.loads(doc.stdout)["error"]["code"] == "usage"  # the --json error document
    result = invoke(project, "backfill", "--resume", "b' OR '1'='1")
    assert result.exit_code == 2 and "no backfill" in result.output
    assert fingerprint(project) == before
    assert catalog_rows(project, "SELECT run_id FROM runs") == [("r00001",)]


@pytest.mark.parametrize("name", ['x"; DROP TABLE stg_trips; --', "x'; DROP TABLE stg_trips; --",
                                  "x -- comment", "x/*y*/", "stg_trips;"])
def test_an_asset_name_with_sql_in_it_is_invalid_and_changes_nothing(own_copy, name):
    project = own_copy
    (project / "evil.yaml").write_text(textwrap.dedent(f"""\
        assets:
          - name: {json.dumps(name)}
            kind: table
            deps: [stg_trips]
            materialize: {{strategy: table, sql: "SELECT * FROM stg_trips"}}
        """))
    before = fingerprint(project)
    for command in ("validate", "materialize", "status"):
        result = invoke(project, command)
        assert result.exit_code == 2, (command, result.output)
        assert "evil.yaml" in result.output
    assert fingerprint(project) == before


def test_static_values_with_quotes_and_comment_markers_are_data_not_sql(tmp_path):
    values = ["O'Brien", "a; DROP TABLE people; --", 'say "hi" /* x */', "$partition_key",
              "x' OR '1'='1"]
    root = tmp_path / "p"
    root.mkdir()
    (root / "people.yaml").write_text(textwrap.dedent(f"""\
        assets:
          - name: people
            kind: table
            partitions:
              static: {{values: {json.dumps(values)}, column: who}}
            materialize:
              strategy: incremental
              sql: SELECT $partition_key AS who, length($partition_key) AS n
            checks:
              - {{name: one_row, row_count: {{min: 1, max: 1}}}}
              - {{name: known, accepted_values: {{column: who, values: {json.dumps(values)}}}}}
        """))
    result = invoke(root, "materialize")
    assert result.exit_code == 0, result.output
    assert invoke(root, "materialize", "--partition", values[1], "--force").exit_code == 0
    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=True)
    rows = sorted(con.execute("SELECT who, n FROM people").fetchall())
    tables = con.execute("SELECT table_name FROM information_schema.tables "
                         "WHERE table_schema = 'main'").fetchall()
    con.close()
    assert rows == sorted((v, len(v)) for v in values)
    assert tables == [("people",)]
    mats = catalog_rows(root, "SELECT partition_key, count(*) FROM materializations "
                              "WHERE kind = 'materialization' GROUP BY 1")
    assert dict(mats) == {**{v: 1 for v in values}, values[1]: 2}
    status = invoke(root, "status", "--json")
    assert '"fresh": 5' in status.stdout


# -- hostile paths and names of files ---------------------------------------------------------


@pytest.mark.parametrize("name", ["../../../../tmp/x/leak", "/etc/passwd", "manifest/../run",
                                  "../schemas/manifest"])
def test_schema_accepts_only_the_documented_names(tmp_path, name):
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "leak.schema.json").write_text('{"secret": true}')
    result = CliRunner().invoke(app, ["schema", name])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2 and "no schema named" in result.output, result.output
    assert "secret" not in result.output and "Known: " in result.output


def test_a_source_file_linked_from_outside_the_project_is_refused_and_not_read(tmp_path):
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhunter2\n")
    (root / "data" / "ok.csv").write_text("token\nfine\n")
    (root / "data" / "evil.csv").symlink_to(secret)
    (root / "m.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: feed
            kind: source
            source: {path: "data/*.csv"}
          - name: copied
            deps: [feed]
            materialize: {strategy: table, sql: "SELECT * FROM feed"}
        """))
    for command in ("status", "materialize"):
        result = invoke(root, command)
        assert result.exit_code == 2, result.output
        assert "data/evil.csv leads outside the project folder" in result.output
        assert "hunter2" not in result.output
    assert not (root / ".duck" / "warehouse.duckdb").exists() or not duckdb.connect(
        str(root / ".duck" / "warehouse.duckdb"), read_only=True).execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'copied'").fetchone()[0]


def test_a_static_value_cannot_read_a_file_outside_the_project(tmp_path):
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "secret.csv").write_text("region,token\nEMEA,hunter2\n")
    root = tmp_path / "a" / "b" / "p"
    (root / "data" / "regions").mkdir(parents=True)
    (root / "data" / "regions" / "EMEA.csv").write_text("region,token\nEMEA,fine\n")
    (root / "m.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: regions
            kind: source
            source: {path: "data/regions/{value}.csv"}
            partitions: {static: {values: ['../../../../../x/secret', EMEA], column: region}}
        """))
    result = invoke(root, "materialize")
    assert result.exit_code == 2 and "m.yaml:4" in result.output, result.output
    assert "leave the project folder" in result.output and "hunter2" not in result.output
    assert not (root / ".duck").exists()


# -- data that carries workflow commands ------------------------------------------------------

INJECTED = "EMEA\n::error file=evil.yaml::INJECTED"
ANNOTATION = re.compile(r"^::warning file=[^,:]*m\.yaml,line=5,title=[^:]*::[^\n]*EMEA%0A::error")


def _runner_lines(text: str) -> list[str]:
    """The lines a GitHub runner would take for workflow commands."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::")]


@pytest.mark.parametrize("github", [False, True])
def test_data_cannot_inject_workflow_commands(tmp_path, github):
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    (root / "data" / "regions.csv").write_text(
        'region,n\nAPAC,1\n"' + INJECTED + '",2\n')
    (root / "m.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: regions_raw
            kind: source
            source: {path: data/regions.csv}
          - name: regions
            deps: [regions_raw]
            materialize: {strategy: table, sql: "SELECT * FROM regions_raw"}
            checks:
              - {name: known_region, accepted_values: {column: region, values: [EMEA, APAC]},
                 severity: warn}
        """))
    env = {"GITHUB_ACTIONS": "true"} if github else {}
    args = ("--github",) if github else ()
    outputs = [invoke(root, "materialize", *args, env=env).output,
               invoke(root, "check", *args, env=env).output,
               invoke(root, "runs", "show", "r00001", env=env).output]
    for out in outputs:
        assert "INJECTED" in out  # the value is shown ...
        for line in _runner_lines(out):  # ... but never as a command of its own
            assert ANNOTATION.match(line), line  # duck's own annotation, the value escaped
    assert bool(_runner_lines(outputs[0])) is github
