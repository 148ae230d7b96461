"""Fuzzing `duck validate` through the CLI: whatever the manifests hold, exit 0 or 2, never a crash.

Three sources of input: random YAML documents, random mutations of the example project's
manifests and SQL (dropped keys, changed types, renamed keys, unicode, quotes, semicolons and
comment markers spliced into values), and random text. `--json` must always print one JSON
document whose `valid` agrees with the exit code.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import EXAMPLE, example_copy
from mutation import mutate, paths
from duck_cli.cli.app import app

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MANIFESTS = {p.name: yaml.safe_load(p.read_text()) for p in sorted(EXAMPLE.glob("*.yaml"))
             if p.name != "duck.yaml"}
SQL_FILES = sorted(str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*.sql"))

NASTY = ["'", '"', ";", "--", "/*", "*/", "; DROP TABLE stg_trips; --", "' OR '1'='1", "ü",
         "🦆", "\u202e", "\u00a0", "\t", "\\", "{date}", "{this}", "$partition_key", "${x}",
         "%s", "..", "../../etc/passwd", "NULL", "~", "&a", "*a", "!!python/object:os.system",
         "\ufeff", "ß", "名前", ""]
WORDS = ["assets", "products", "name", "kind", "source", "path", "table", "format", "partitions",
         "daily", "hourly", "monthly", "static", "values", "start", "end", "timezone", "column",
         "deps", "asset", "mapping", "offset", "materialize", "strategy", "incremental", "view",
         "sql", "sql_file", "checks", "unique", "not_null", "row_count", "min", "max", "freshness",
         "deadline", "max_lag", "warn", "severity", "owner", "tags", "description", "stg_trips",
         "zone_metrics", "raw_trips", "2026-03-01", "07:00", "26h", "UTC", "Europe/Amsterdam",
         "SELECT 1", "models/stg_trips.sql"]
text = st.one_of(st.sampled_from(WORDS + NASTY), st.text(max_size=12),
                 st.builds(lambda a, b, c: a + b + c, st.sampled_from(WORDS), st.sampled_from(NASTY),
                           st.sampled_from(WORDS)))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), text,
                    st.dates().map(str))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(WORDS), text), inner, max_size=5)), max_leaves=30)


def validate(root: Path) -> None:
    """`duck validate` and `duck validate --json` on ``root``: exit 0 or 2, no crash, honest JSON."""
    runner = CliRunner()
    human = runner.invoke(app, ["validate", "-p", str(root)])
    assert human.exception is None or isinstance(human.exception, SystemExit), (
        f"{human.exception!r}\n{human.output}")
    assert human.exit_code in (0, 2), human.output
    assert "Traceback" not in human.output
    machine = runner.invoke(app, ["validate", "--json", "-p", str(root)])
    assert machine.exit_code == human.exit_code, (human.output, machine.output)
    doc = json.loads(machine.stdout)
    assert doc["valid"] is (machine.exit_code == 0)
    if human.exit_code == 2:
        assert "error" in human.output


def run_on(files: dict[str, str | bytes], with_example_files: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "p"
        if with_example_files:  # the example's data, SQL and manifests, some replaced below
            example_copy(root)
        root.mkdir(exist_ok=True)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
        validate(root)


# -- random documents ------------------------------------------------------------------------------


@FUZZ
@given(documents)
def test_random_yaml_documents(doc: Any) -> None:
    wrapped = {"assets": doc} if isinstance(doc, list) else doc
    run_on({"m.yaml": yaml.safe_dump(wrapped, allow_unicode=True)})


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(WORDS + NASTY + [":", ": ", "- ", "\n", "\n  ", "[", "]",
                                                            "{", "}", ",", "# ", "---\n", "|\n"])),
                max_size=40),
       st.sampled_from(["m.yaml", "duck.yaml", "x.yml"]))
def test_random_yamlish_text(parts: list[str], name: str) -> None:
    run_on({name: "".join(parts)}, with_example_files=name == "duck.yaml")


# -- mutations of the example project ---------------------------------------------------------------


mutation = st.tuples(st.sampled_from(["delete", "rename", "splice", "splice", "wrap", "replace"]),
                     scalars, st.sampled_from(NASTY))


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_mutated_example_manifests(data: st.DataObject) -> None:
    files = {name: copy.deepcopy(doc) for name, doc in MANIFESTS.items()}
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        name = data.draw(st.sampled_from(sorted(files)), label="file")
        if not paths(files[name], root=False):  # an earlier mutation emptied it
            continue
        path = data.draw(st.sampled_from(paths(files[name], root=False)), label="path")
        action, value, nasty = data.draw(mutation, label="mutation")
        files[name] = mutate(files[name], path, action, value, nasty)
    texts: dict[str, str | bytes] = {n: yaml.safe_dump(d, allow_unicode=True, sort_keys=False)
                                     for n, d in files.items()}
    if data.draw(st.booleans(), label="mutate sql"):
        sql_name = data.draw(st.sampled_from(SQL_FILES), label="sql file")
        sql = (EXAMPLE / sql_name).read_text()
        at = data.draw(st.integers(0, len(sql)), label="at")
        texts[sql_name] = sql[:at] + data.draw(st.sampled_from(NASTY), label="sql nasty") + sql[at:]
    run_on(texts, with_example_files=True)


# -- random graphs over several manifest files ------------------------------------------------------


GRAPH_NAMES = ["orders", "Orders", "stg_orders", "trips", "zones", "rev", "dash"]
PARTITIONS = [None, {"daily": {"start": "2026-03-01"}}, {"hourly": {"start": "2026-03-29T00"}},
              {"weekly": {"start": "2026-03-02"}}, {"monthly": {"start": "2026-01-01", "end": "2026-02"}},
              {"static": {"values": ["APAC", "EMEA"]}}, {"daily": {"start": "2026-03-01",
                                                                    "timezone": "Europe/Nowhere"}}]
deps = st.one_of(st.sampled_from(GRAPH_NAMES + ["missing", "stg_order"]), st.fixed_dictionaries(
    {"asset": st.sampled_from(GRAPH_NAMES)},
    optional={"mapping": st.sampled_from(["auto", "identity", "all", "offset", "nope"]),
              "offset": st.integers(-2, 2)}))
graph_assets = st.fixed_dictionaries(
    {"name": st.sampled_from(GRAPH_NAMES)},
    optional={"deps": st.lists(deps, max_size=3), "partitions": st.sampled_from(PARTITIONS),
              "materialize": st.sampled_from([{"sql": "select 1"}, {"strategy": "incremental",
                                               "sql": "select * from orders"},
                                              {"strategy": "view", "sql_file": "nope.sql"}]),
              "source": st.sampled_from([{"path": "data/{date}.csv"}, {"table": "ref.t"}])})


@FUZZ
@given(st.lists(st.lists(graph_assets, max_size=5), min_size=1, max_size=3))
def test_random_graphs_across_manifest_files(files: list[list[dict]]) -> None:
    """Unknown, duplicate (also across files and case), cyclic and badly mapped deps: exit 0 or 2."""
    run_on({f"m{i}.yaml": yaml.safe_dump({"assets": assets}) for i, assets in enumerate(files)})


def test_the_unmutated_example_is_valid_through_the_same_harness() -> None:
    texts = {n: yaml.safe_dump(d, allow_unicode=True, sort_keys=False)
             for n, d in MANIFESTS.items()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "p"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".duck", "*.yaml"))
        for name, content in texts.items():
            (root / name).write_text(content)
        result = CliRunner().invoke(app, ["validate", "-p", str(root)])
        assert result.exit_code == 0, result.output
        assert "valid: 9 assets" in result.output
