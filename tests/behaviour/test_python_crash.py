"""kill -9 during a Python step: nothing half-published, the step's run recorded abandoned, and
the next command rebuilds what the killed one did not finish.

A Python asset (a table) and a file asset over it are built once at day 1; then the function
changes, a second `duck materialize` is killed (at a fault point inside a Python step, or by a
SIGKILL while the function itself runs), and the checks follow as in the crash matrix.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from conftest import catalog_rows, warehouse_rows
from reliability_check import check_consistency, run_duck, run_rows, start_duck

NOW = "2026-03-03T01:00:00+00:00"
MANIFEST = """
assets:
  - name: scored
    partitions: {daily: {start: "2026-03-01", column: day}}
    materialize: {python: "pipelines/p.py:score"}
    checks:
      - {row_count: {min: 1}}
  - name: report
    kind: file
    deps: [scored]
    partitions: {daily: {start: "2026-03-01"}}
    materialize: {python: "pipelines/p.py:report"}
"""
CODE = """
    import os
    import time
    from pathlib import Path

    VERSION = {version}

    def score(context):
        hold = os.environ.get("HOLD_FILE")  # set only by the run the test kills
        if hold and Path(hold).parent.exists() and VERSION == 2:
            hold = Path(hold)
            hold.write_text(str(os.getpid()))  # the test kills us while we sleep here
            time.sleep(30)
        day = context.partition_time_window.start.date()
        return context.con.sql(f"SELECT DATE '{{day}}' AS day, {{VERSION}} AS version FROM range(100)")

    def report(context, scored):
        [(v,)] = scored.aggregate("max(version)").fetchall()
        (context.output_dir / "a.txt").write_text(f"version {{v}}\\n" * 50)
        (context.output_dir / "b.txt").write_text(f"version {{v}}\\n" * 50)
"""


def project(tmp_path: Path, isolation: str = "thread") -> Path:
    root = tmp_path / "p"
    (root / "pipelines").mkdir(parents=True)
    (root / "assets.yaml").write_text(MANIFEST.replace(
        '"pipelines/p.py:score"}', f'"pipelines/p.py:score", isolation: {isolation}}}'))
    (root / "pipelines" / "p.py").write_text(textwrap.dedent(CODE.format(version=1)))
    assert run_duck(root, "materialize", now=NOW).returncode == 0
    (root / "pipelines" / "p.py").write_text(textwrap.dedent(CODE.format(version=2)))
    return root


def assert_whole(root: Path, idle: bool = True) -> None:
    """Every published folder holds one version's files, both of them; the table one version
    per day; catalog and warehouse agree."""
    for day in ("2026-03-01", "2026-03-02"):
        folder = root / "outputs" / "report" / day
        texts = {p.name: p.read_text() for p in folder.iterdir()}
        assert sorted(texts) == ["a.txt", "b.txt"]
        assert len(set(texts.values())) == 1, texts
    for day, versions in warehouse_rows(root, "SELECT day::VARCHAR, count(DISTINCT version) "
                                              "FROM scored GROUP BY day"):
        assert versions == 1, day
    assert check_consistency(root, synced=False, idle=idle) == []


@pytest.mark.parametrize("fault", ["stage:1", "checks:2", "publish:1", "publish:3", "ledger:3",
                                   "publish:4"])
def test_a_kill_at_a_fault_point_of_a_python_step(tmp_path, fault):
    root = project(tmp_path)
    killed = run_duck(root, "materialize", "--jobs", "1", now=NOW, DUCK_FAULT=fault)
    assert killed.returncode == 137
    assert_whole(root, idle=False)
    after = run_duck(root, "materialize", now=NOW)
    assert after.returncode == 0, after.stdout + after.stderr
    runs = run_rows(root)
    assert runs[1][2] == "abandoned" and runs[-1][2] == "success"
    assert_whole(root)
    assert set(warehouse_rows(root, "SELECT DISTINCT version FROM scored")) == {(2,)}
    assert (root / "outputs/report/2026-03-01/a.txt").read_text().startswith("version 2")
    assert not any((root / "outputs" / ".staging").iterdir())
    assert json_plan_is_empty(root)


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_sigkill_while_the_function_runs(tmp_path, isolation):
    root = project(tmp_path, isolation)
    hold = tmp_path / "hold" / "pid"
    hold.parent.mkdir()
    proc = start_duck(root, "materialize", now=NOW, HOLD_FILE=str(hold))
    deadline = time.monotonic() + 60
    while not hold.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    runs_in = int(hold.read_text())
    assert (runs_in == proc.pid) == (isolation == "thread")  # or in a worker process
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    if isolation == "process":  # the orphaned worker stops too, its function unfinished
        deadline = time.monotonic() + 10
        while _alive(runs_in) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(runs_in)
    assert_whole(root, idle=False)
    assert set(warehouse_rows(root, "SELECT DISTINCT version FROM scored")) == {(1,)}
    hold.parent.rename(tmp_path / "released")
    after = run_duck(root, "materialize", now=NOW)
    assert after.returncode == 0, after.stdout + after.stderr
    assert [r[2] for r in run_rows(root)] == ["success", "abandoned", "success"]
    steps = catalog_rows(root, "SELECT status FROM steps WHERE run_id = 'r00002'")
    assert all(s == "abandoned" for (s,) in steps) or steps == []
    assert_whole(root)
    assert set(warehouse_rows(root, "SELECT DISTINCT version FROM scored")) == {(2,)}


def json_plan_is_empty(root: Path) -> bool:
    import json

    return json.loads(run_duck(root, "plan", "--json", now=NOW).stdout)["steps"] == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped) is gone
        return stat.read().split(") ")[-1][0] != "Z"
