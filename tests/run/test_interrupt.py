"""Ctrl-C (SIGINT) during a run: finish the current step's transaction, stop, say so, exit 130.

The first Ctrl-C lets the step in progress publish (or not) as one transaction and then stops:
the run is recorded as 'canceled', nothing is half-published, and the backfill can be resumed.
A second Ctrl-C stops at once, even in the middle of a long query.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import MORNING, catalog_rows, example_copy
from reliability_check import check_consistency, run_duck, run_rows, start_duck

BACKFILL = ("backfill", "stg_trips", "zone_metrics", "--from", "2026-03-01", "--to",
            "2026-03-06", "--batch-size", "1")  # 12 steps, one partition each


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    example_copy(root)
    return root


def _progress_lines(proc: subprocess.Popen, wanted: int) -> int:
    """Read the writer's stderr until ``wanted`` step lines went by; how many did."""
    seen = 0
    while seen < wanted:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line.startswith("[")
    return seen


def test_ctrl_c_finishes_the_current_step_marks_the_run_canceled_and_exits_130(project):
    proc = start_duck(project, *BACKFILL, now=MORNING)
    assert _progress_lines(proc, 2) == 2
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    assert "canceled" in out and "`duck backfill --resume b00001` finishes" in out
    [(run_id, command, status, pid, _host, _error)] = run_rows(project)
    assert (run_id, command, status, pid) == ("r00001", "backfill", "canceled", proc.pid)
    steps = catalog_rows(project, "SELECT status, count(*) FROM steps GROUP BY 1")
    done = dict(steps).get("success", 0)
    assert set(dict(steps)) == {"success"}, steps  # no step failed or was left half-done
    assert 2 <= done < 12, f"{done} steps ran: the run did not stop after the current one"
    published = catalog_rows(project, "SELECT count(*) FROM materializations "
                                      "WHERE kind = 'materialization'")[0][0]
    assert published == done
    assert check_consistency(project) == []
    assert catalog_rows(project, "SELECT status FROM backfills") == [("canceled",)]
    listed = json.loads(run_duck(project, "backfills", "--json", now=MORNING).stdout)
    assert listed["backfills"][0]["progress"] == {"done": done, "requested": 12}
    table = run_duck(project, "backfills", now=MORNING).stdout
    assert f"{done}/12" in table and "duck backfill --resume b00001" in table
    resumed = run_duck(project, "backfill", "--resume", "b00001", now=MORNING)
    assert resumed.returncode == 0, resumed.stderr
    assert catalog_rows(project, "SELECT count(*) FROM materializations "
                                 "WHERE kind = 'materialization'")[0][0] == 12
    assert catalog_rows(project, "SELECT status FROM backfills") == [("completed",)]
    assert check_consistency(project) == []


SLOW = textwrap.dedent("""\
    assets:
      - name: quick
        kind: table
        materialize: {strategy: table, sql: "SELECT 42 AS answer"}
      - name: slow
        kind: table
        deps: [quick]
        materialize:
          strategy: table
          # runs for minutes unless interrupted
          sql: "SELECT sum(i) AS s FROM range(100000000000) AS t(i), quick"
    """)


def _materialize_and_ctrl_c(root: Path, settings: str, manifest: str, presses: int,
                            timeout: float) -> tuple[str, str, int]:
    """Materialize; once `quick` is published and the next steps have begun, press Ctrl-C
    ``presses`` times (0.5 s apart). The output, the errors and the exit code."""
    root.mkdir()
    (root / "duck.yaml").write_text(settings)
    (root / "assets.yaml").write_text(manifest)
    proc = start_duck(root, "materialize", now=MORNING)
    try:
        assert _progress_lines(proc, 1) == 1  # quick is published; what follows has begun
        for _ in range(presses):
            time.sleep(0.5)
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out, err, proc.returncode


def test_a_second_ctrl_c_stops_a_long_query_at_once(tmp_path):
    root = tmp_path / "slow"
    # the first Ctrl-C would finish the step (minutes), the second stops now
    out, err, code = _materialize_and_ctrl_c(root, "threads: 1\n", SLOW, presses=2, timeout=30)
    assert "Traceback" not in err, err[-3000:]
    assert code == 130, (out, err)
    assert "interrupted" in err
    assert [r[2] for r in run_rows(root)] == ["canceled"]
    assert catalog_rows(root, "SELECT asset FROM materializations WHERE kind = "
                              "'materialization'") == [("quick",)]
    assert check_consistency(root) == []


GROUPED = "assets:\n  - {name: quick, kind: table, materialize: {sql: 'SELECT 42 AS answer'}}\n" + "".join(
    f"  - {{name: slow_{i}, kind: table, deps: [quick], materialize: {{sql: 'SELECT sum(i) AS s "
    f"FROM range(1000000000) AS t(i), quick'}}}}\n" for i in range(10))  # about 1 s each


def test_ctrl_c_stops_a_group_of_steps_after_the_step_in_progress(tmp_path):
    """Steps with nothing to audit share a transaction in groups (here 2 workers x 5 steps); the
    first Ctrl-C still means "finish the step in progress", not "finish the group"."""
    root = tmp_path / "grouped"
    out, err, code = _materialize_and_ctrl_c(root, "threads: 1\njobs: 2\n", GROUPED, presses=1,
                                             timeout=60)
    assert code == 130, (out, err)
    assert "Traceback" not in out + err
    assert [r[2] for r in run_rows(root)] == ["canceled"]
    published = {a for (a,) in catalog_rows(root, "SELECT asset FROM materializations WHERE "
                                                  "kind = 'materialization'")}
    slow = published - {"quick"}
    assert "quick" in published and 1 <= len(slow) <= 4, sorted(slow)  # not all 10
    assert check_consistency(root) == []
