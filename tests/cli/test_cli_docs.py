"""Every command documents itself (`--help` with an "Example:" line) and appears in README.md,
and what the documentation (README.md and docs/) shows exists: its commands' options, the exit
codes, the --json schemas and examples, every manifest and settings field, the set-up commands,
and the CI example workflow. docs/commands.md is generated from the help texts and must be
current."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from conftest import ROOT, example_copy
from duck_cli.cli.app import app
from duck_cli.errors import ExitCode

README = ROOT / "README.md"
DOCS = ROOT / "docs"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
# The contract's commands (DESIGN.md); the CLI may have more, never fewer.
CONTRACT = {"validate", "graph", "plan", "materialize", "backfill", "status", "why", "reconcile",
            "check", "runs", "init"}
SETUP = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e . && '
    'duck materialize -p examples/manifests',
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
    'python -m pytest -n 2',
]
DOC_FILES = ("manifest.md", "commands.md", "json.md", "ci.md", "architecture.md")


def _commands(group=None, prefix=()):
    """(path, click command) for every command and subcommand, groups included."""
    group = group or typer.main.get_command(app)
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):  # as `duck --help` lists them, lazy ones loaded
        cmd = group.get_command(ctx, name)
        yield prefix + (name,), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))


COMMANDS = {path: cmd for path, cmd in _commands()}

# `duck runs --help` prints typer.Typer(help="Run history.") instead of the callback's docstring
# (which holds the example): cli.py should drop that help= (see the issue 8 report).
_RUNS_HELP = ()  # was an expected failure until `duck runs --help` showed its example


def _paths():
    return [pytest.param(p, marks=_RUNS_HELP, id=" ".join(p)) if p == ("runs",) else
            pytest.param(p, id=" ".join(p)) for p in sorted(COMMANDS)]


def _readme() -> str:
    return README.read_text()


def _doc(name: str) -> str:
    return (DOCS / name).read_text()


def _all_docs() -> str:
    """README.md and every page of docs/, as one text."""
    return "\n".join([_readme(), *(p.read_text() for p in sorted(DOCS.glob("*.md")))])


def _example(path: tuple) -> str:
    out = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"},
                             prog_name="duck").stdout
    found = re.findall(r"^\s*Example: (duck .+?)\s*$", out, flags=re.M)
    assert found, f"`duck {' '.join(path)} --help` has no 'Example:' line:\n{out}"
    return found[0]


def test_the_contract_commands_exist():
    assert CONTRACT <= {p[0] for p in COMMANDS}
    assert ("runs", "show") in COMMANDS


@pytest.mark.parametrize("path", _paths())
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, prog_name="duck")
    assert result.exit_code == 0
    assert f"Usage: duck {' '.join(path)}" in result.stdout
    example = _example(path)
    assert example.startswith(f"duck {path[0]}")


@pytest.mark.parametrize("path", _paths())
def test_every_command_and_its_example_are_in_the_readme(path):
    text = _readme()
    assert f"`duck {' '.join(path)}`" in text, f"README.md does not document duck {path}"
    assert _example(path) in text, f"README.md lacks the example of duck {' '.join(path)}"


def test_the_readme_has_the_two_setup_commands():
    text = _readme()
    for command in SETUP:
        assert f"   {command}\n" in text, command


def test_the_docs_have_every_page_and_the_readme_links_them():
    text = _readme()
    for name in DOC_FILES:
        assert (DOCS / name).is_file(), name
        assert f"(docs/{name})" in text, f"README.md does not link docs/{name}"


def test_the_docs_have_every_exit_code():
    table = _doc("ci.md").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = {int(c) for c in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert codes == {int(c) for c in ExitCode}
    line = _readme().split("Exit codes: ", 1)[1].split("\n\n", 1)[0]
    assert {int(c) for c in re.findall(r"\b(\d+)\s", line)} == {int(c) for c in ExitCode}, line


def test_the_docs_link_every_schema():
    text = _all_docs()
    for schema in (ROOT / "schemas").glob("*.schema.json"):
        assert f"(../schemas/{schema.name})" in text, schema.name


def test_the_docs_have_the_schema_line_partition_parameters_and_ci_words():
    manifest, ci = _doc("manifest.md"), _doc("ci.md")
    assert "# yaml-language-server: $schema=../../schemas/manifest.schema.json" in manifest
    for word in ("$partition_start", "$partition_end", "$partition_key"):
        assert word in manifest, word
    for word in ("DUCK_NOW", "--junit-xml", "--github", "GITHUB_STEP_SUMMARY",
                 "examples/ci/github-actions.yml", "--fail-on", ".duck/"):
        assert word in ci, word
    assert "DUCK_NOW" in _readme()


def test_the_readme_has_the_concepts():
    text = _readme()
    for concept in ("asset", "run", "materialization", "check", "backfill", "freshness",
                    "blocker", "reconcile", "data product"):
        assert f"**{concept}**" in text.lower(), concept


def _readme_invocations():
    """Every `duck ...` invocation shown in README and docs/ code (blocks and inline code)."""
    text = _all_docs()
    chunks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S) + re.findall(r"`([^`\n]+)`", text)
    # a console block's other lines are what its commands print (`duck diff: pr against prod`)
    printed = {line.strip() for block in re.findall(r"```console\n(.*?)```", text, flags=re.S)
               for line in block.splitlines() if not line.startswith("$ ")}
    for chunk in chunks:
        for line in chunk.splitlines():
            if line.strip() in printed:
                continue
            line = line.strip().removeprefix("$ ")
            for part in re.split(r"&&|\|(?!\|)", line):
                part = part.strip()
                if part.startswith("duck ") and "COMMAND" not in part and "KIND" not in part:
                    yield part


def _options(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


def _command_of(words: list[str]) -> tuple | None:
    if tuple(words[:2]) in COMMANDS:
        return tuple(words[:2])
    return (words[0],) if words and (words[0],) in COMMANDS else None


def test_every_option_the_readme_shows_exists():
    root_options = _options(typer.main.get_command(app))
    checked = set()
    for invocation in _readme_invocations():
        words = shlex.split(invocation.split(" > ")[0])[1:]
        path = _command_of(words)
        assert path, f"README or docs/: `{invocation}` is not a duck command"
        known = _options(COMMANDS[path]) | root_options
        for word in words[len(path):]:
            if word.startswith("-"):
                assert word.split("=")[0] in known, \
                    f"README or docs/: `{invocation}`: duck {' '.join(path)} has no {word}"
        checked.add(path)
    assert checked == set(COMMANDS)


def test_the_ci_example_workflow():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert {"pull_request", "push"} <= set(triggers)
    steps = {name: job["steps"] for name, job in workflow["jobs"].items()}
    runs = {name: "\n".join(s.get("run", "") for s in job) for name, job in steps.items()}
    uses = {name: [s.get("uses", "") for s in job] for name, job in steps.items()}
    assert "pull_request" in workflow["jobs"]["plan"]["if"]
    assert "duck plan --fail-on pending" in runs["plan"]
    assert "refs/heads/main" in workflow["jobs"]["materialize"]["if"]
    assert re.search(r"duck materialize .*--github", runs["materialize"])
    assert re.search(r"--junit-xml (\S+)", runs["materialize"])
    report = re.search(r"--junit-xml (\S+)", runs["materialize"])[1]
    upload = next(s for s in steps["materialize"] if s.get("uses", "").startswith(
        "actions/upload-artifact@"))
    assert upload["with"]["path"] == report and upload["if"] == "always()"
    for job in ("plan", "materialize"):
        assert any(u.startswith("actions/cache") for u in uses[job]), job
        cached = [s["with"]["path"] for s in steps[job] if s.get("uses", "").startswith(
            "actions/cache")]
        assert all(p.endswith("/.duck") for p in cached)
    assert any(u.startswith("actions/cache/save@") for u in uses["materialize"])
    assert "DUCK_PROJECT" in workflow["env"]


def test_version_is_the_package_version_and_is_recorded_with_each_run(tmp_path):
    import subprocess
    import sys
    from importlib.metadata import version

    from conftest import MORNING, catalog_rows

    duck = Path(sys.executable).parent / "duck"
    out = subprocess.run([str(duck), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == f"duck {version('duck-cli')}\n"
    root = example_copy(tmp_path / "project")
    env = {**os.environ, "DUCK_NOW": MORNING}
    run = subprocess.run([str(duck), "materialize", "-p", str(root)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert catalog_rows(root, "SELECT DISTINCT duck_version FROM runs") == [(version("duck-cli"),)]


def test_commands_md_is_generated_from_the_current_help_texts():
    from duck_cli.cli import docs

    assert _doc("commands.md") == docs.render(), (
        f"docs/commands.md is out of date: regenerate it with `{docs.REGENERATE}`")


def _schema_fields(node) -> set[str]:
    """Every property name a JSON Schema defines, at any depth."""
    if isinstance(node, list):
        return set().union(*map(_schema_fields, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    own = set(node.get("properties", {}))
    return own.union(*map(_schema_fields, node.values()))


@pytest.mark.parametrize("schema", ["manifest", "settings"])
def test_manifest_md_documents_every_field_of_the_schemas(schema):
    fields = _schema_fields(json.loads((ROOT / "schemas" / f"{schema}.schema.json").read_text()))
    assert len(fields) > 5
    text = _doc("manifest.md")
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, f"docs/manifest.md does not document {missing} ({schema}.schema.json)"


DOCUMENT_SCHEMAS = sorted(p.name.split(".")[0] for p in (ROOT / "schemas").glob("*.schema.json")
                          if p.name.split(".")[0] not in ("manifest", "settings"))


@pytest.mark.parametrize("kind", DOCUMENT_SCHEMAS)
def test_json_md_shows_a_valid_example_of_every_document(kind):
    from jsonschema import Draft202012Validator

    text = _doc("json.md")
    assert f"## {kind}\n" in text, (f"docs/json.md has no section for the {kind} document: add "
                                    "it to KINDS in tests/docs_json.py and regenerate")
    section = text.split(f"## {kind}\n", 1)[1].split("\n## ", 1)[0]
    assert f"(../schemas/{kind}.schema.json)" in section
    example = json.loads(re.search(r"```json\n(.*?)```", section, flags=re.S)[1])
    assert example["kind"] == kind and example["schema_version"] == 1
    schema = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text())
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(example)]
    assert not errors, (f"docs/json.md's {kind} example does not match its schema: {errors}; "
                        "regenerate it with `python tests/docs_json.py > docs/json.md`")


def _layer_rows() -> dict[str, list[str]]:
    """docs/architecture.md's layer table: layer -> [what it holds, what it may import]."""
    rows = {}
    for line in _doc("architecture.md").split("## The layers", 1)[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| foundation:"):
            rows["foundation"] = [cells[0], cells[2]]
        elif re.match(r"^\| `\w+/` \|", line):
            rows[cells[0].strip("`/")] = cells[1:3]
    return rows


def test_architecture_md_lists_every_module_in_its_layer():
    package, rows = ROOT / "duck_cli", _layer_rows()
    layers = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert set(rows) == layers | {"foundation"}, "docs/architecture.md's layer table"
    missing = [f"{p.stem}.py" for p in package.glob("*.py")
               if p.stem != "__init__" and f"`{p.stem}.py`" not in rows["foundation"][0]]
    missing += [f"{layer}/{p.name}" for layer in layers for p in (package / layer).glob("*.py")
                if p.stem != "__init__" and f"`{p.stem}`" not in rows[layer][0]]
    assert not missing, f"docs/architecture.md's layer table does not name {missing}"


def test_architecture_md_states_the_import_rules_the_layer_test_enforces():
    from architecture.test_layers import ALLOWED

    order = [layer for layer in ALLOWED]
    words = {"the standard library": set(), "anything": set(order) - {"cli"},
             "all but cli": set(order) - {"cli", "report"}}
    for layer, (_holds, may) in _layer_rows().items():
        above = set(order[:order.index(layer)])
        said = words.get(may, above if may == "all above" else set(may.split(", ")))
        assert said == ALLOWED[layer], f"docs/architecture.md: {layer} may import {may!r}"
