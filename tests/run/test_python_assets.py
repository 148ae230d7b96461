"""Python assets through the real CLI: each return type, the context and upstream relations,
code versions, user tracebacks, timeouts, file outputs and Python checks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import catalog_rows, invoke, run_count, warehouse_rows

NOW = "2026-03-04T01:00:00+00:00"

ORDERS = """
assets:
  - name: orders
    materialize:
      sql: "select range::int as id, date '2026-03-01' + (range % 3)::int as day, range * 1.5 as amount from range(9)"
"""


def make(tmp_path: Path, manifest: str, code: dict[str, str], name: str = "p") -> Path:
    root = tmp_path / name
    (root / "pipelines").mkdir(parents=True)
    (root / "assets.yaml").write_text(ORDERS + manifest)
    for rel, text in code.items():
        (root / rel).write_text(textwrap.dedent(text))
    return root


def duck(root: Path, *args: str, env: dict | None = None):
    return invoke(root, *args, now=NOW, env=env)


def asset(name: str, ref: str, extra: str = "", deps: str = "[orders]") -> str:
    return f"""
  - name: {name}
    deps: {deps}
    materialize: {{python: "{ref}"}}{extra}
"""


RETURNS = {
    "relation": "return orders.filter('amount > 3').project('id, amount')",
    "arrow_table": "import pyarrow as pa\n    return pa.table({'id': [1, 2], 'amount': [1.0, 2.0]})",
    "arrow_reader": "import pyarrow as pa\n    return pa.table({'id': [1, 2, 3]}).to_reader()",
    "pandas": "import pandas as pd\n    return pd.DataFrame({'id': [7, 8]})",
    "polars": "import polars as pl\n    return pl.DataFrame({'id': [7, 8, 9, 10]})",
}
EXPECTED = {"relation": 6, "arrow_table": 2, "arrow_reader": 3, "pandas": 2, "polars": 4}


@pytest.mark.parametrize("kind", sorted(RETURNS))
def test_each_return_type_is_staged_and_published(tmp_path, kind):
    code = f"def build(context, orders):\n    {RETURNS[kind]}\n"
    root = make(tmp_path, asset("out", "pipelines/b.py:build"), {"pipelines/b.py": code})
    result = duck(root, "materialize")
    assert result.exit_code == 0, result.output
    assert warehouse_rows(root, "SELECT count(*) FROM out")[0][0] == EXPECTED[kind]
    [(rows, version)] = catalog_rows(root, "SELECT row_count, code_version FROM materializations "
                                           "WHERE asset = 'out'")
    assert rows == EXPECTED[kind] and version


PARTITIONED = """
  - name: daily_orders
    deps: [orders]
    partitions: {daily: {start: "2026-03-01", column: day}}
    materialize: {sql: "select * from orders where day >= $partition_start and day < $partition_end"}
""" + asset("scored", "pipelines/scoring.py:score", deps="[daily_orders]", extra="""
    partitions: {daily: {start: "2026-03-01", column: day}}
    checks:
      - {row_count: {min: 1}}""") + """
  - name: summary
    deps: [scored]
    materialize: {sql: "select day, sum(score) as total from scored group by day"}
  - name: other
    materialize: {python: "pipelines/other.py:other"}
"""
SCORING = """
    import pyarrow as pa
    from helpers import factor

    def score(context, daily_orders):
        context.log.info("scoring %s", context.partition_key)
        rows = daily_orders.fetchall()
        return pa.table({"day": [r[1] for r in rows], "id": [r[0] for r in rows],
                         "score": [r[2] * factor() for r in rows],
                         "key": [context.partition_key] * len(rows),
                         "win": [str(context.partition_time_window.start)] * len(rows),
                         "run": [context.run_id] * len(rows)})
"""


def partitioned(tmp_path: Path) -> Path:
    return make(tmp_path, PARTITIONED, {
        "pipelines/scoring.py": SCORING, "pipelines/helpers.py": "def factor():\n    return 2\n",
        "pipelines/other.py": "def other(context):\n    return context.con.sql('select 1 as x')\n"})


def test_partitioned_asset_gets_its_context_and_only_its_upstream_slice(tmp_path):
    root = partitioned(tmp_path)
    assert duck(root, "materialize").exit_code == 0
    rows = warehouse_rows(root, "SELECT key, count(*), min(win), min(run) FROM scored "
                                "GROUP BY key ORDER BY key")
    assert [r[:2] for r in rows] == [("2026-03-01", 3), ("2026-03-02", 3), ("2026-03-03", 3)]
    assert rows[0][2] == "2026-03-01 00:00:00+00:00" and rows[0][3].startswith("r")
    assert warehouse_rows(root, "SELECT sum(score) FROM scored")[0][0] == 2 * sum(i * 1.5 for i in range(9))
    logs = catalog_rows(root, "SELECT log FROM steps WHERE asset = 'scored' AND status = 'success' "
                              "ORDER BY seq")
    assert logs == [(f"INFO: scoring 2026-03-0{d}",) for d in (1, 2, 3)]  # one call per partition


def test_changing_a_helper_replans_exactly_its_assets_and_downstream(tmp_path):
    root = partitioned(tmp_path)
    assert duck(root, "materialize").exit_code == 0
    assert json.loads(duck(root, "plan", "--json").stdout)["steps"] == []
    (root / "pipelines/helpers.py").write_text("def factor():\n    return 3\n")
    steps = json.loads(duck(root, "plan", "--json").stdout)["steps"]
    assert sorted({s["asset"] for s in steps}) == ["scored", "summary"]  # not daily_orders, other
    assert duck(root, "materialize").exit_code == 0
    assert warehouse_rows(root, "SELECT sum(total) FROM summary")[0][0] == 3 * sum(i * 1.5 for i in range(9))


def test_an_exception_fails_the_step_with_the_users_traceback_only(tmp_path):
    code = """
        def helper(x):
            return 1 / x

        def build(context, orders):
            context.log.warning("about to divide")
            return helper(0)
    """
    root = make(tmp_path, asset("out", "pipelines/b.py:build") + """
  - name: after
    deps: [out]
    materialize: {sql: "select * from out"}
""", {"pipelines/b.py": code})
    result = duck(root, "materialize")
    assert result.exit_code == 1
    assert "build raised: ZeroDivisionError: division by zero" in result.output
    [(error, kind, log)] = catalog_rows(root, "SELECT error, error_kind, log FROM steps WHERE asset = 'out'")
    assert kind == "python" and log == "WARNING: about to divide"
    assert 'File "pipelines/b.py", line 3, in helper' in error and "duck_cli" not in error
    shown = duck(root, "runs", "show", "r00001").output
    assert 'File "pipelines/b.py", line 7, in build' in shown and "return 1 / x" in shown
    assert "log: WARNING: about to divide" in shown
    detail = json.loads(duck(root, "runs", "show", "r00001", "--json").stdout)
    assert [s["log"] for s in detail["steps"] if s["asset"] == "out"] == ["WARNING: about to divide"]
    assert warehouse_rows(root, "SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name IN ('out', 'after')")[0][0] == 0


def test_a_hanging_function_is_stopped_by_its_timeout(tmp_path):
    code = "import time\n\ndef build(context, orders):\n    while True:\n        time.sleep(0.05)\n"
    root = make(tmp_path, asset("out", "pipelines/b.py:build", "\n    timeout: 1s")
                .replace('materialize: {python: "pipelines/b.py:build"}\n    timeout: 1s',
                         'materialize: {python: "pipelines/b.py:build", timeout: 1s}'),
                {"pipelines/b.py": code})
    result = duck(root, "materialize")
    assert result.exit_code == 1
    assert "did not finish within its timeout (1s)" in result.output
    assert catalog_rows(root, "SELECT error_kind FROM steps WHERE asset = 'out'") == [("timeout",)]


def test_returning_something_else_is_a_clear_error(tmp_path):
    root = make(tmp_path, asset("out", "pipelines/b.py:build"),
                {"pipelines/b.py": "def build(context, orders):\n    return {'id': [1]}\n"})
    result = duck(root, "materialize")
    assert result.exit_code == 1
    assert "build returned dict, not data. Return a DuckDB relation" in result.output


def test_a_frame_library_that_is_not_installed_is_named_with_the_fix(tmp_path):
    root = make(tmp_path, asset("out", "pipelines/b.py:build"),
                {"pipelines/b.py": "import pandas as pd\n\ndef build(context):\n    return pd.DataFrame({'a': [1]})\n"})
    blocked = "import sys; sys.modules['pandas'] = None; from duck_cli.cli.app import main; sys.argv[0] = 'duck'; main()"
    proc = subprocess.run([sys.executable, "-c", blocked, "materialize", "-p", str(root)],
                          capture_output=True, text=True, env={"DUCK_NOW": NOW, "NO_COLOR": "1",
                                                                "COLUMNS": "200", "PATH": "/usr/bin"})
    assert proc.returncode == 1, proc.stderr
    [(error,)] = catalog_rows(root, "SELECT error FROM steps WHERE asset = 'out'")
    assert "importing pipelines/b.py failed: ModuleNotFoundError" in error
    assert "pandas is not installed: install duck's python extra (pip install 'duck-cli[python]')" in error
    assert "Traceback" not in proc.stdout + proc.stderr


WATCHED = ("import atexit, sys; from duck_cli.cli.app import main; sys.argv[0] = 'duck'; "
           "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules, "
           "file=sys.stderr)); main()")


def test_a_command_binding_parameters_never_imports_pandas_for_duckdb(tmp_path):
    # DuckDB 1.5 imports pandas to bind any parameter (0.4 s of CPU): duck refuses that one
    # import (engine.skip_binding_imports); a user's own import of pandas or polars still works
    root = make(tmp_path, "", {})
    proc = subprocess.run([sys.executable, "-c", WATCHED, "materialize", "-p", str(root)],
                          capture_output=True, text=True, env={"DUCK_NOW": NOW, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "pandas imported: False" in proc.stderr
    assert warehouse_rows(root, "SELECT count(*) FROM orders")[0][0] == 9
    users = make(tmp_path, asset("p", "pipelines/b.py:pandas_frame") +
                 asset("q", "pipelines/b.py:polars_frame"),
                 {"pipelines/b.py": "def pandas_frame(context, orders):\n    import pandas as pd\n"
                                    "    return pd.DataFrame({'id': [7, 8]})\n\n"
                                    "def polars_frame(context, orders):\n    import polars as pl\n"
                                    "    return pl.DataFrame({'id': [7, 8, 9]})\n"}, name="u")
    proc = subprocess.run([sys.executable, "-c", WATCHED, "materialize", "-p", str(users)],
                          capture_output=True, text=True, env={"DUCK_NOW": NOW, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pandas imported: True" in proc.stderr
    assert [warehouse_rows(users, f"SELECT count(*) FROM {t}")[0][0] for t in "pq"] == [2, 3]


def test_two_projects_in_one_process_keep_their_own_helpers(tmp_path):
    roots = []
    for n in (2, 5):
        roots.append(make(tmp_path, asset("out", "pipelines/b.py:build"), {
            "pipelines/b.py": "from helpers import value\n\ndef build(context, orders):\n"
                              "    return orders.project(f'id * {value()} AS v')\n",
            "pipelines/helpers.py": f"def value():\n    return {n}\n"}, name=f"p{n}"))
    for root in roots:
        assert duck(root, "materialize").exit_code == 0
    assert [warehouse_rows(r, "SELECT max(v) FROM out")[0][0] for r in roots] == [16, 40]
    assert not any(str(r) in p for r in roots for p in sys.path)
    assert "helpers" not in sys.modules


@pytest.mark.parametrize("ref, words", [
    ("pipelines/missing.py:build", "python file 'pipelines/missing.py' does not exist"),
    ("pipelines/b.py:bild", "defines no function 'bild'"),
    ("pipelines/b.py", "is not FILE.py:FUNCTION"),
])
def test_bad_references_are_validation_errors(tmp_path, ref, words):
    root = make(tmp_path, asset("out", ref), {"pipelines/b.py": "def build(context):\n    pass\n"})
    result = duck(root, "validate")
    assert result.exit_code == 2
    assert words in result.output and "assets.yaml" in result.output
    if "bild" in ref:
        assert "build" in result.output  # did you mean


FILES = """
  - name: chart
    kind: file
    deps: [orders]
    partitions: {daily: {start: "2026-03-01"}}
    materialize: {python: "pipelines/chart.py:chart"}
    checks:
      - {name: has_files, row_count: {min: 1}}
      - {name: sizes, accepted_range: {column: bytes, min: 10, max: 10000}}
      - {name: is_svg, python: "pipelines/chart.py:is_svg"}
"""
CHART = """
    def chart(context, orders):
        n = orders.aggregate("count(*)").fetchall()[0][0]
        (context.output_dir / "chart.svg").write_text(f"<svg>{'x' * SIZE}{n}</svg>")
        (context.output_dir / "data").mkdir()
        (context.output_dir / "data" / "n.txt").write_text(str(n) * 12)

    def is_svg(context, chart):
        text = (context.output_dir / "chart.svg").read_text()
        return {"passed": text.startswith("<svg>"), "observed": f"{len(text)} chars"}

    SIZE = 20
"""


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_file_asset_publishes_each_partition_folder_and_records_its_files(tmp_path, isolation):
    manifest = FILES.replace('"pipelines/chart.py:chart"}', f'"pipelines/chart.py:chart", isolation: {isolation}}}')
    root = make(tmp_path, manifest, {"pipelines/chart.py": CHART})
    assert duck(root, "materialize").exit_code == 0
    out = root / "outputs" / "chart"
    assert sorted(p.name for p in out.iterdir()) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert (out / "2026-03-02" / "chart.svg").read_text().endswith("9</svg>")
    files = warehouse_rows(root, "SELECT partition_key, file, bytes FROM chart ORDER BY 1, 2")
    assert files[:2] == [("2026-03-01", "chart.svg", 32), ("2026-03-01", "data/n.txt", 12)]
    assert catalog_rows(root, "SELECT count(*), sum(row_count) FROM materializations "
                              "WHERE asset = 'chart'") == [(3, 6)]
    checks = catalog_rows(root, "SELECT check_name, passed, observed FROM check_results "
                                "WHERE partition_key = '2026-03-01' ORDER BY 1")
    assert checks == [("has_files", True, "2 rows"), ("is_svg", True, "32 chars"),
                      ("sizes", True, "0 rows out of range")]


def test_a_failing_file_check_keeps_the_previous_files(tmp_path):
    root = make(tmp_path, FILES, {"pipelines/chart.py": CHART})
    assert duck(root, "materialize").exit_code == 0
    before = (root / "outputs/chart/2026-03-01/chart.svg").read_text()
    (root / "pipelines/chart.py").write_text(textwrap.dedent(CHART).replace("SIZE = 20", "SIZE = 20000"))
    result = duck(root, "materialize")
    assert result.exit_code == 1 and "check sizes failed" in result.output
    assert (root / "outputs/chart/2026-03-01/chart.svg").read_text() == before
    assert not list((root / "outputs" / ".staging").iterdir())
    assert warehouse_rows(root, "SELECT max(bytes) FROM chart WHERE file = 'chart.svg'")[0][0] == 32


def test_a_python_check_blocks_publishing_with_its_failing_rows(tmp_path):
    code = """
        def build(context, orders):
            return orders.project("id, amount - 3 AS amount")

        def positive(out):
            return out.filter("amount < 0")
    """
    root = make(tmp_path, asset("out", "pipelines/b.py:build", """
    checks:
      - {name: positive, python: "pipelines/b.py:positive"}
      - {name: soft, python: "pipelines/b.py:positive", severity: warn}"""), {"pipelines/b.py": code})
    result = duck(root, "materialize")
    assert result.exit_code == 1 and "check positive failed" in result.output
    rows = catalog_rows(root, "SELECT check_name, severity, passed, failing, sample FROM check_results ORDER BY 1")
    assert [r[:4] for r in rows] == [("positive", "error", False, 2), ("soft", "warn", False, 2)]
    assert json.loads(rows[0][4])[0] == {"id": 0, "amount": -3.0}
    assert warehouse_rows(root, "SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'out'")[0][0] == 0


OBSERVED = """
  - name: api
    source: {observe: "pipelines/api.py:available_days"}
    partitions: {daily: {start: "2026-03-01"}}
  - name: pulled
    deps: [api]
    partitions: {daily: {start: "2026-03-01", column: day}}
    materialize: {python: "pipelines/api.py:pull"}
"""
API = """
    import json
    from pathlib import Path

    STATE = Path(__file__).with_name("api_state.json")

    def available_days(context):
        return json.loads(STATE.read_text())

    def pull(context, api):
        [(key, version)] = api.fetchall()
        return context.con.sql(f"SELECT DATE '{key}' AS day, '{version}' AS version")
"""


def test_an_observed_source_drives_what_is_built_and_rebuilt(tmp_path):
    root = make(tmp_path, OBSERVED, {"pipelines/api.py": API})
    state = root / "pipelines" / "api_state.json"
    state.write_text(json.dumps({"2026-03-01": "v1", "2026-03-02": "v1"}))
    result = duck(root, "materialize")
    assert result.exit_code == 0, result.output
    assert warehouse_rows(root, "SELECT day::VARCHAR, version FROM pulled ORDER BY 1") == [
        ("2026-03-01", "v1"), ("2026-03-02", "v1")]
    observed = catalog_rows(root, "SELECT partition_key, data_version FROM materializations "
                                  "WHERE asset = 'api' AND kind = 'observation' ORDER BY 1")
    assert observed == [("2026-03-01", "v1"), ("2026-03-02", "v1")]
    state.write_text(json.dumps({"2026-03-01": "v2", "2026-03-02": "v1", "2026-03-03": "v1"}))
    result = duck(root, "materialize", "--json")
    built = sorted(s["partitions"][0] for s in json.loads(result.stdout)["steps"])
    assert built == ["2026-03-01", "2026-03-03"]  # changed and arrived; 03-02 untouched
    assert warehouse_rows(root, "SELECT version FROM pulled ORDER BY day") == [("v2",), ("v1",), ("v1",)]


def test_a_failing_observer_fails_its_readers_with_its_error(tmp_path):
    root = make(tmp_path, OBSERVED, {"pipelines/api.py": API})
    (root / "pipelines" / "api_state.json").write_text("not json")
    result = duck(root, "materialize")
    assert result.exit_code == 1
    assert ("source 'api': its observer pipelines/api.py:available_days failed: available_days "
            "raised: json.decoder.JSONDecodeError: Expecting value") in result.output
    assert 'File "pipelines/api.py", line 8, in available_days' in result.output
    assert run_count(root) == 0
