"""Every module imports on its own, and start-up stays lazy (no duckdb/jsonschema for --help)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import duck_cli

MODULES = sorted(m.name.removeprefix('duck_cli.') for m in pkgutil.walk_packages(duck_cli.__path__, 'duck_cli.'))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_alone(name):
    result = subprocess.run([sys.executable, "-c", f"import duck_cli.{name}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cli_import_is_lazy():
    code = ("import sys, duck_cli.cli.app; "
            "print(sorted(m for m in ('duckdb', '_duckdb', 'jsonschema', 'yaml', 'rich.table', 'croniter') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_the_engine_module_is_the_public_duckdb_engine(tmp_path):
    """duck imports DuckDB's compiled engine alone; its objects are the public package's."""
    import duckdb

    from duck_cli.engine import duckdb as engine

    assert engine.Error is duckdb.Error and engine.IOException is duckdb.IOException
    con = engine.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t AS SELECT DATE '2026-03-12' AS d, 1.5::DECIMAL(4, 2) AS x")
    con.close()
    assert duckdb.connect(str(tmp_path / "w.duckdb")).execute("SELECT * FROM t").fetchall() == [
        (__import__("datetime").date(2026, 3, 12), __import__("decimal").Decimal("1.50"))]


def test_a_command_does_not_import_duckdbs_python_layer(project):
    finance = project / "finance.yaml"  # SQL only: Python assets get DuckDB's relational layer
    text = finance.read_text()
    finance.write_text(text[:text.index("  - name: revenue_forecast")] + text[text.index("products:"):])
    code = ("import sys; from duck_cli.cli.app import main; sys.argv = ['duck', 'materialize', '-p', "
            f"{str(project)!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('\\n', sorted(m for m in ('duckdb', '_duckdb') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (project / ".duck" / "warehouse.duckdb").exists()
    assert result.stdout.strip().splitlines()[-1].strip() == "['_duckdb']", result.stdout + result.stderr


def test_every_layer_is_walked():
    """The import-alone test reaches the modules inside the layer packages."""
    assert {"run.build", "manifest.compiled", "report.render", "cli.app"} <= set(MODULES)


@pytest.mark.materialized
def test_a_materialize_with_nothing_to_do_imports_no_rich_and_opens_duckdb_once(project):
    """The fixed cost of a writing command: a no-op prints its plain sentence without rich, and
    plans from the session's own observation (no second, in-memory DuckDB connection)."""
    from conftest import invoke

    assert invoke(project, "validate").exit_code == 0  # the copy's manifests: parsed once
    code = ("import sys\nfrom duck_cli.engine import duckdb\nopened = []\nreal = duckdb.connect\n"
            "duckdb.connect = lambda *a, **k: opened.append(a[:1]) or real(*a, **k)\n"
            "from duck_cli.cli.app import main\n"
            f"sys.argv = ['duck', 'materialize', '-p', {str(project)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), len(opened))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, "DUCK_NOW": "2026-03-13T07:30:00+01:00"})
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "Nothing to do: everything selected is up to date.", result.stdout + result.stderr
    assert lines[-1] == "[] 1", result.stdout + result.stderr  # the warehouse, nothing else


def test_the_console_script_raises_the_collectors_bar_before_duck_loads():
    """`duck` starts in cli/console.py, which sets the cycle collector's threshold before any
    module of the app is imported (their import is most of a no-op's fixed cost), and freezes
    what is alive when the command ends (the exit's collection of it costs ~20 ms)."""
    from importlib.metadata import entry_points

    from duck_cli.cli.entry import GC_THRESHOLD

    assert [e.value for e in entry_points(group="console_scripts", name="duck")] == [
        "duck_cli.cli.console:main"]
    code = ("import gc, sys\nseen = []\n"
            "class Watch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'duck_cli.cli.app':\n"
            "            seen.append(gc.get_threshold())\n"
            "sys.meta_path.insert(0, Watch())\n"
            "sys.argv = ['duck', '--version']\n"
            "from duck_cli.cli.console import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(gc.get_freeze_count() > 1000)\n"
            "print(seen)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    assert duck_cli.__version__ in lines[0], result.stdout + result.stderr
    assert lines[-1] == str([GC_THRESHOLD]), result.stdout + result.stderr
    assert lines[-2] == "True", result.stdout + result.stderr  # frozen for the exit


# What a writing command in file mode (local state, a warehouse file, SQL assets) never needs:
# the other commands' modules, PostgreSQL's claims of a shared backfill, ctypes (Python assets'
# timeouts, files assets' atomic swap), tempfile (Python assets' exchange folders), random (a
# lake transaction's retry), ElementTree and report.ci (--junit-xml, --github), the other
# commands' options and views (lineage, status, summaries). `cli.group.DuckGroup.lazy` and `Shared.walk` keep them
# out; this test keeps them out for good.
NOT_FOR_A_FILE_BACKFILL = ("psycopg", "ctypes", "tempfile", "random", "xml.etree.ElementTree",
                           "duck_cli.state.postgres_claims",
                           "duck_cli.run.shared_backfill", "duck_cli.cli.diff",
                           "duck_cli.cli.env_commands", "duck_cli.cli.migrate_command",
                           "duck_cli.report.environments", "duck_cli.report.ci",
                           "duck_cli.cli.options_read", "duck_cli.cli.options_more",
                           "duck_cli.report.render_read", "duck_cli.report.lineage",
                           "duck_cli.report.status", "duck_cli.report.summary",
                           "duck_cli.state.lake", "duck_cli.state.lake_tables")


@pytest.mark.materialized
def test_a_file_mode_backfill_imports_only_what_it_runs(project):
    """`duck backfill` builds its partitions and records its backfill, and the process never
    imported another command's modules nor the shared-backfill machinery."""
    from conftest import invoke

    code = ("import sys\nfrom duck_cli.cli.console import main\n"
            "sys.argv = ['duck', 'backfill', 'zone_metrics', '--from', '2026-03-10', '--to', "
            f"'2026-03-12', '-p', {str(project)!r}]\n"
            "try:\n    main()\nexcept SystemExit as stop:\n    print('exit', stop.code)\n"
            f"print(sorted(m for m in {NOT_FOR_A_FILE_BACKFILL!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, "DUCK_NOW": "2026-03-13T07:30:00+01:00"})
    lines = result.stdout.strip().splitlines()
    assert lines[-2:] == ["exit 0", "[]"], result.stdout + result.stderr
    backfills = __import__("json").loads(invoke(project, "backfills", "--json").stdout)
    assert [b["status"] for b in backfills["backfills"]] == ["completed"], backfills


def test_the_lazy_commands_load_when_named_or_listed():
    """`duck diff`, `env`, `promote` and `migrate` load only when named, yet `duck --help` and
    an unknown name's suggestion still know them, in their place in the listing."""
    code = ("import sys\nfrom duck_cli.cli.console import main\n"
            "sys.argv = ['duck', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('duck_cli.cli.diff', 'duck_cli.cli.env_commands') "
            "if m in sys.modules))")

    def duck(*args):
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, env={**__import__("os").environ, "COLUMNS": "100"})

    listed = duck("--help")
    names = [line.split()[0] for line in listed.stdout.split("Commands:")[1].splitlines()
             if line.startswith("  ")]
    assert names[names.index("check"):names.index("check") + 3] == ["check", "diff", "report"]
    assert names[-4:] == ["promote", "migrate", "runs", "env"], names
    assert "Did you mean 'diff'?" in duck("difff").stderr
    assert duck("env", "--help").stdout.strip().splitlines()[-1] == "['duck_cli.cli.env_commands']"
    assert duck("schema").stdout.strip().splitlines()[-1] == "[]"
