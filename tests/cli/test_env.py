"""The one Env per invocation: width, colour, clock, CI flags and debug come from the environ
mapping and the streams it is given, and everything duck draws or records follows it."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import termios
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from conftest import MORNING
from duck_cli.health.status import status_report
from duck_cli.cli.app import app
from duck_cli.cli.env import Env
from duck_cli.cli.options import Target
from duck_cli.cli.project import open_project, read_state
from duck_cli.errors import UsageError
from duck_cli.report import render_read


def _env(environ: dict, stdout=None, **kw) -> Env:
    return Env.build(environ, stdout or io.StringIO(), io.StringIO(), **kw)


@pytest.fixture
def tty():
    """A real pseudo-terminal, 100 columns wide, as a text stream."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    stream = os.fdopen(follower, "w")
    yield stream
    stream.close()
    os.close(leader)


def test_width_is_columns_else_the_terminal_else_120(tty):
    assert _env({"COLUMNS": "80"}).width == 80
    assert _env({"COLUMNS": "80"}, tty).width == 80
    assert _env({}, tty).width == 100  # the terminal's own width
    assert _env({}).width == 120  # piped: logs and CI
    assert _env({"COLUMNS": "wide"}).width == 120 and _env({"COLUMNS": "0"}).width == 120


def test_colour_only_on_a_terminal_without_no_color(tty):
    assert _env({}).color is None and _env({}).terminal is False
    assert _env({}, tty).color == "standard" and _env({}, tty).terminal is True
    assert _env({"NO_COLOR": "1"}, tty).color is None
    assert _env({"TERM": "xterm-256color"}, tty).color == "256"
    assert _env({"FORCE_COLOR": "1"}).color == "standard"  # forced, even when piped


def test_the_clock_is_duck_now_or_the_utc_wall_clock():
    fixed = _env({"DUCK_NOW": "2026-03-13T07:30:00+01:00"}).now()
    assert fixed == datetime(2026, 3, 13, 6, 30, tzinfo=timezone.utc)
    assert fixed.utcoffset() == timedelta(hours=1)
    assert _env({"DUCK_NOW": "2026-03-13T06:30:00Z"}).now().utcoffset() == timedelta(0)
    wall = _env({}).now()
    assert wall.tzinfo is not None and abs(wall - datetime.now(timezone.utc)) < timedelta(5)
    with pytest.raises(UsageError, match="DUCK_NOW"):
        _env({"DUCK_NOW": "yesterday"}).now()


def test_ci_flags(tmp_path):
    plain = _env({})
    assert (plain.ci, plain.github_actions, plain.step_summary) == (False, False, None)
    assert plain.github(False) is None and plain.github(True).summary is None
    summary = tmp_path / "summary.md"
    actions = _env({"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert actions.ci and actions.github_actions
    assert actions.github(False).summary == summary  # in Actions without --github
    assert actions.github(False).stream is actions.stderr
    assert _env({"CI": "false"}).ci is False


def test_debug_from_the_flag_or_duck_debug():
    assert _env({}).debug is False and _env({}, debug=True).debug is True
    assert _env({"DUCK_DEBUG": "1"}).debug is True and _env({"DUCK_DEBUG": "0"}).debug is False


def test_json_is_read_from_the_words_of_the_command_line():
    assert _env({}, argv=("status", "--json", "--fail-on", "x")).wants_json
    assert _env({}, argv=("graph", "--format", "json")).wants_json
    assert _env({}, argv=("graph", "--format=json")).wants_json
    assert not _env({}, argv=("graph", "--format", "mermaid")).wants_json
    assert _env({}, argv=("materialize", "-p", "x")).args == "materialize -p x"


def test_the_environment_is_not_in_the_env_repr():
    env = _env({"DUCK_PG_PASSWORD": "hunter2"})
    assert env.environ["DUCK_PG_PASSWORD"] == "hunter2" and "hunter2" not in repr(env)


def test_a_report_drawn_at_80_columns_through_an_env_built_screen(project):
    out = io.StringIO()
    env = _env({"COLUMNS": "80", "DUCK_NOW": MORNING}, out)
    state = read_state(open_project(Target(project), env), env)
    render_read.status(env.screen, status_report(state, list(state.project.assets)), False, False)
    lines = out.getvalue().splitlines()
    assert any("daily_revenue" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in out.getvalue()  # piped: no colour


def test_the_cli_draws_at_columns_and_at_120_when_piped(project):
    runner = CliRunner()
    for columns, limit in (("80", 80), (None, 120)):
        result = runner.invoke(app, ["status", "-p", str(project)],
                               env={"COLUMNS": columns, "DUCK_NOW": MORNING})
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.stdout.splitlines()) <= limit


def test_times_in_tables_follow_the_tz_the_env_was_given(project):
    runner = CliRunner()
    for tz, clock in (("Asia/Tokyo", "15:30:00+09:00"), ("UTC", "06:30:00+00:00")):
        result = runner.invoke(app, ["status", "-p", str(project)],
                               env={"DUCK_NOW": MORNING, "TZ": tz})
        assert result.stdout.startswith(f"Status at 2026-03-13 {clock}"), result.stdout
    assert _env({"TZ": ":Europe/Amsterdam"}).screen.tz.key == "Europe/Amsterdam"


def test_the_run_record_keeps_the_command_line_it_was_given(project):
    runner = CliRunner()
    args = ["materialize", "stg_trips", "--partition", "2026-03-12", "-p", str(project)]
    assert runner.invoke(app, args, env={"DUCK_NOW": MORNING}).exit_code == 0
    result = runner.invoke(app, ["runs", "--json", "-p", str(project)])
    assert json.loads(result.stdout)["runs"][0]["args"] == " ".join(args)


def test_debug_shows_the_traceback_and_without_it_one_paragraph(project):
    runner = CliRunner()
    args = ["status", "daily_revenu", "-p", str(project)]
    quiet = runner.invoke(app, args, env={"DUCK_NOW": MORNING})
    assert quiet.exit_code == 2 and isinstance(quiet.exception, SystemExit)
    assert "Traceback" not in quiet.output and "Did you mean 'daily_revenue'?" in quiet.stderr
    loud = runner.invoke(app, ["--debug", *args], env={"DUCK_NOW": MORNING})
    assert isinstance(loud.exception, UsageError)  # raised through: Python prints the traceback
    assert "no asset named 'daily_revenu'" in str(loud.exception)
    by_env = runner.invoke(app, args, env={"DUCK_NOW": MORNING, "DUCK_DEBUG": "1"})
    assert isinstance(by_env.exception, UsageError)
