"""Shared fixtures: a copy of the example project in tmp_path, a fixed clock, the CLI runner."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgmode
from duck_cli.cli.app import app

pytest_plugins = ["servers", "pg"]  # loopback S3 and HTTP servers; a PostgreSQL server (tests/pg.py)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "manifests"
# 07:30 in Amsterdam on 2026-03-13: yesterday's partition (2026-03-12) is due by 07:00.
MORNING = "2026-03-13T07:30:00+01:00"


def pytest_addoption(parser):
    parser.addoption("--state-backend", choices=("local", "postgres"),
                     default=os.environ.get(pgmode.MODE_VARIABLE, "local"),
                     help="where the example projects keep their state: the local catalog file "
                          "(default) or PostgreSQL (tests/pgmode.py)")


def pytest_configure(config):
    os.environ[pgmode.MODE_VARIABLE] = config.getoption("--state-backend")


def pytest_collection_modifyitems(config, items):
    if not pgmode.enabled():
        return
    skip = pytest.mark.skip(reason="about the local catalog file; the state is in PostgreSQL")
    for item in items:
        if item.get_closest_marker("local_state"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _state_server(request):
    """In postgres mode, the session's server, its address in libpq's variables."""
    if not pgmode.enabled():
        return None
    pg = request.getfixturevalue("postgres")
    os.environ.update({k: v for k, v in pg.env().items() if k != "PGDATABASE"})
    return pg


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, _state_server):
    """No colour, a fixed width, no CI variables leaking in."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("DUCK_PROJECT", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "DUCK_NOW"):
        monkeypatch.delenv(var, raising=False)


def example_copy(dest: Path) -> Path:
    """A private copy of the example project, without its state, at ``dest`` (in postgres
    mode with a new state database of its own)."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".duck"))
    if pgmode.enabled():
        pgmode.use_postgres(dest)
    return dest


def copy_project(source: Path, dest: Path) -> Path:
    """A copy of a project with its state (in postgres mode its database copied too)."""
    shutil.copytree(source, dest)
    if pgmode.database(source):
        pgmode.use_postgres(dest, template=pgmode.database(source))
    return dest


@pytest.fixture(scope="session")
def materialized_example(tmp_path_factory) -> Path:
    """The example project after one good `duck materialize` at MORNING, built once per worker."""
    return built_example(tmp_path_factory, "materialized")


@pytest.fixture
def project(request, tmp_path) -> Path:
    """A private copy of the example project; under ``@pytest.mark.materialized`` a copy of it
    after one good `duck materialize` at MORNING (copying is much cheaper than building)."""
    if request.node.get_closest_marker("materialized"):
        return copy_project(request.getfixturevalue("materialized_example"), tmp_path / "project")
    return example_copy(tmp_path / "project")


def invoke(root: Path, *args: str, now: str | None = MORNING, env: dict | None = None):
    """Run `duck ARGS -p ROOT` in-process, whatever the exit code; no exception or traceback
    may escape (the tests of bad input)."""
    env = {**({"DUCK_NOW": now} if now else {}), **(env or {})}
    result = CliRunner().invoke(app, [*args, "-p", str(root)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"duck {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output
    return result


def built_example(tmp_path_factory, name: str) -> Path:
    """A copy of the example project after one good `duck materialize` (state in .duck)."""
    root = tmp_path_factory.mktemp(name) / "project"
    example_copy(root)
    assert invoke(root, "materialize").exit_code == 0
    return root


def run_ok(root: Path, *args: str, code: int = 0, now: str | None = MORNING):
    """`invoke` that must exit with ``code`` (the output shown when it does not)."""
    result = invoke(root, *args, now=now)
    assert result.exit_code == code, result.output
    return result


def run_json(root: Path, *args: str, code: int = 0, now: str | None = MORNING):
    """The ``--json`` document of `run_ok`."""
    return json.loads(run_ok(root, *args, "--json", code=code, now=now).stdout)


PR_MORNING = "2026-03-14T09:00:00+00:00"  # the environment tests' clock


def edit_zone_metrics(root: Path) -> None:
    """The environment tests' pull request: zone_metrics rounds to one decimal, not two."""
    sql = root / "models" / "zone_metrics.sql"
    sql.write_text(sql.read_text().replace("avg(distance_km), 2)", "avg(distance_km), 1)"))


@pytest.fixture(scope="session")
def built_at_pr_morning(tmp_path_factory) -> Path:
    """The example after one good `duck materialize` at PR_MORNING, built once per worker."""
    root = example_copy(tmp_path_factory.mktemp("previews") / "project")
    run_ok(root, "materialize", now=PR_MORNING)
    return root


@pytest.fixture
def preview(built_at_pr_morning, tmp_path) -> Path:
    """A copy of that built project with `edit_zone_metrics` applied: the change to preview."""
    root = copy_project(built_at_pr_morning, tmp_path / "project")
    edit_zone_metrics(root)
    return root


class Duck:
    """Runs `duck` through Typer's CliRunner against one project, at a fixed clock."""

    def __init__(self, root: Path, now: str | None = MORNING):
        self.root = root
        self.now = now
        self.runner = CliRunner()

    def __call__(self, *args: str, now: str | None = None, expect: int | None = 0):
        env = {"DUCK_NOW": now or self.now} if (now or self.now) else {}
        result = self.runner.invoke(app, [*args, "-p", str(self.root)], env=env,
                                    catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.output)
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, **kw) -> dict:
        result = self(*args, "--json", **kw)
        return json.loads(result.stdout)


@pytest.fixture
def duck(project) -> Duck:
    """The CLI bound to the example project copy, at 2026-03-13 07:30 Amsterdam."""
    return Duck(project)


def add_checks_on_published_data(project: Path) -> None:
    """A blocking and a warning check that the published stg_trips data violates."""
    manifest = project / "mobility.yaml"
    manifest.write_text(manifest.read_text().replace(
        "      - {name: one_row_per_trip, unique: [trip_id]}\n",
        "      - {name: one_row_per_trip, unique: [trip_id]}\n"
        "      - {name: short_trips, accepted_range: {column: distance_km, max: 20}}\n"
        "      - {name: cheap_trips, accepted_range: {column: fare, max: 40}, severity: warn}\n"))


def warehouse_rows(root: Path, sql: str, params=None, read_only: bool = True):
    """Query the project's warehouse (read-only unless told) and return all rows."""
    import duckdb

    con = duckdb.connect(str(root / ".duck" / "warehouse.duckdb"), read_only=read_only)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def run_count(root: Path) -> int:
    """How many runs the project's catalog records."""
    return catalog_rows(root, "SELECT count(*) FROM runs")[0][0]


def catalog_rows(root: Path, sql: str, params=None):
    """Query the project's state catalog (read-only) and return all rows."""
    import duckdb

    if pgmode.database(root):
        return pgmode.query(pgmode.database(root), sql, params)

    con = duckdb.connect(str(root / ".duck" / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def append_duplicate_trip(project: Path, day: str = "2026-03-09") -> None:
    """Deliver the day's last trip twice (keeping the file's CRLF line ends)."""
    csv = project / "data" / "trips" / f"{day}.csv"
    data = csv.read_bytes()
    last = data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].rstrip(b"\r")
    csv.write_bytes(data + last + (b"\r\n" if b"\r\n" in data else b"\n"))
