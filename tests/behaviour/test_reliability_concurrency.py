"""Concurrency: readers work while a writer runs; writers queue behind the project lock.

The writer is the installed `duck` in a subprocess. Where a test needs the writer to hold the
lock for a while, it pauses it with SIGSTOP (and resumes it with SIGCONT) instead of relying on
how fast the machine is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from conftest import MORNING, example_copy
from duck_cli.cli.app import app
from reliability_check import check_consistency, run_duck, run_rows, start_duck

DAYS = ("--from", "2026-03-01", "--to", "2026-03-12")
BACKFILL = ("backfill", "stg_trips", "zone_metrics", "daily_revenue", *DAYS, "--batch-size", "1")


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    example_copy(root)
    return root


def reader(root: Path, *args: str):
    """A reading command in-process: (exit code, output, exception)."""
    result = CliRunner().invoke(app, [*args, "-p", str(root)], env={"DUCK_NOW": MORNING})
    crash = None if isinstance(result.exception, (SystemExit, type(None))) else result.exception
    return result.exit_code, result.output, result.stdout, crash


def _wait_for_progress(proc: subprocess.Popen, lines: int = 1) -> list[str]:
    seen: list[str] = []
    while len([s for s in seen if s.startswith("[")]) < lines:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"the writer ended early: {proc.wait()} {''.join(seen)}")
        seen.append(line)
    return seen


def test_status_plan_why_and_runs_work_while_a_backfill_runs(project):
    writer = start_duck(project, *BACKFILL, now=MORNING)
    calls, fresh_counts, saw_running = [], [], False
    try:
        _wait_for_progress(writer)
        commands = [("status", "--json"), ("plan", "--json"), ("why", "daily_revenue"),
                    ("runs", "--json")]
        while writer.poll() is None and len(calls) < 200:
            args = commands[len(calls) % len(commands)]
            code, output, stdout, crash = reader(project, *args)
            calls.append((args, code, output, crash, writer.poll() is None))
            if args[0] == "status" and code == 0:
                stg = next(a for a in json.loads(stdout)["assets"] if a["name"] == "stg_trips")
                fresh_counts.append(stg["partitions"]["fresh"])
            if args[0] == "runs" and code == 0:
                saw_running |= any(r["status"] == "running" for r in json.loads(stdout)["runs"])
    finally:
        out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err[-2000:]
    during = [c for c in calls if c[4]]
    assert len(during) >= 4, f"only {len(during)} reader calls overlapped the backfill"
    bad = [(c[0], c[1], c[3], c[2][-500:]) for c in calls
           if c[1] != 0 or c[3] is not None or "Traceback" in c[2]]
    assert not bad, bad
    assert fresh_counts == sorted(fresh_counts), f"status went backwards: {fresh_counts}"
    assert saw_running, "`duck runs` never showed the backfill's run as running"
    assert check_consistency(project) == []
    code, _out, stdout, _crash = reader(project, "status", "--json")
    states = {a["name"]: a["partitions"]["fresh"] for a in json.loads(stdout)["assets"]}
    assert states["stg_trips"] == states["zone_metrics"] == states["daily_revenue"] == 12


def test_a_subprocess_status_during_a_backfill_exits_0(project):
    """The same through the real command line, with the writer paused between steps."""
    writer = start_duck(project, *BACKFILL[:-2], "--batch-size", "4", now=MORNING)
    try:
        _wait_for_progress(writer)
        os.kill(writer.pid, signal.SIGSTOP)
        try:
            # The writer holds the catalog only for a moment per flush; if it was paused there,
            # the reader waits (the 30 s default) rather than failing. Give it that long.
            done = run_duck(project, "status", "--json", now=MORNING, timeout=60)
        finally:
            os.kill(writer.pid, signal.SIGCONT)
    finally:
        writer.communicate(timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["kind"] == "status"
    assert writer.returncode == 0


def test_a_second_writer_waits_shows_the_holder_then_exits_4_or_runs_after(project):
    first = start_duck(project, "backfill", "stg_trips", "--from", "2026-03-01", "--to",
                       "2026-03-06", "--batch-size", "1", now=MORNING)
    third = None
    try:
        _wait_for_progress(first)
        os.kill(first.pid, signal.SIGSTOP)  # it holds the lock, for as long as we like
        holder = f"`duck backfill` (pid {first.pid} on {os.uname().nodename}"
        for args in (("materialize", "--wait", "1"), ("reconcile", "--apply", "--wait", "0.5"),
                     ("prune", "--keep-runs", "1", "--wait", "0.5"), ("doctor", "--wait", "0")):
            started = time.monotonic()
            second = run_duck(project, *args, now=MORNING)
            assert second.returncode == 4, (args, second.stdout, second.stderr)
            assert time.monotonic() - started < 20
            assert "Traceback" not in second.stderr
            assert f"locked by {holder}" in second.stderr, second.stderr
            assert "raise --wait" in second.stderr
            if args[0] == "materialize":
                assert f"waiting for the project lock held by {holder}" in second.stderr
        third = start_duck(project, "materialize", "--wait", "120", now=MORNING)
        line = third.stderr.readline()
        assert f"waiting for the project lock held by {holder}" in line, line
        assert third.poll() is None
    finally:
        os.kill(first.pid, signal.SIGCONT)
        first.communicate(timeout=300)
        out, err = third.communicate(timeout=300) if third else ("", "")
    assert first.returncode == 0
    assert third.returncode == 0, err
    runs = run_rows(project)
    assert [(r[0], r[1], r[2]) for r in runs] == [("r00001", "backfill", "success"),
                                                  ("r00002", "materialize", "success")]
    # The waiting materialize planned after the backfill: it did not rebuild what it built.
    assert "stg_trips 2026-03-01" not in err and "stg_trips 2026-03-07" in err
    assert check_consistency(project) == []


def test_a_foreign_process_holding_the_warehouse_gives_exit_4_after_the_wait(project):
    assert run_duck(project, "materialize", "stg_trips", *DAYS, now=MORNING).returncode == 0
    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"))  # like a DuckDB shell
    try:
        started = time.monotonic()
        done = run_duck(project, "materialize", "--wait", "1", now=MORNING, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        con.close()
    assert done.returncode == 4, done.stderr
    assert "warehouse.duckdb is in use by another process" in done.stderr
    assert elapsed < 20
    assert check_consistency(project) == []


def test_readers_give_up_with_exit_4_when_the_catalog_stays_locked(project):
    assert run_duck(project, "materialize", "stg_trips", *DAYS, now=MORNING).returncode == 0
    (project / "duck.yaml").write_text("wait: 1\n")
    con = duckdb.connect(str(project / ".duck" / "catalog.duckdb"))
    try:
        done = run_duck(project, "runs", now=MORNING, timeout=60)
    finally:
        con.close()
    assert done.returncode == 4, done.stderr
    assert "catalog.duckdb is in use by another process" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.local_state
def test_wait_bounds_the_wait_for_a_locked_catalog_too(project):
    assert run_duck(project, "materialize", "stg_trips", *DAYS, now=MORNING).returncode == 0
    con = duckdb.connect(str(project / ".duck" / "catalog.duckdb"))
    try:
        done = run_duck(project, "materialize", "--wait", "1", now=MORNING, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("duck materialize --wait 1 was still waiting after 10 s")
    finally:
        con.close()
    assert done.returncode == 4, done.stderr
    assert "catalog.duckdb is in use by another process" in done.stderr
