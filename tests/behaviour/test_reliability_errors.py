"""The tracebacks that were left: each is now one clear paragraph with its documented exit code,
and nothing recorded changes. Plus SIGTERM, bad option values and resource bounds.

In-process tests use `invoke` (no exception may escape); the full disk and the signal run the
installed `duck` in a subprocess, as they need a process of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import example_copy, catalog_rows, invoke, warehouse_rows
from reliability_check import DUCK_BIN, check_consistency, duck_env, run_duck, start_duck

MORNING = "2026-03-13T07:30:00+01:00"


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (the snapshot cache aside): path -> sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "cache" not in p.parts}


pytestmark = pytest.mark.materialized  # `project`: a copy of the example materialized_example once per worker


def refused(root: Path, *args: str, code: int = 2, now: str | None = MORNING, env=None):
    """Run duck, expect ``code`` and no traceback, and return the output."""
    result = invoke(root, *args, now=now, env=env)
    assert result.exit_code == code, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output and "Exception" not in result.output, result.output
    return result.output


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_runs_limit_below_one_is_a_usage_error(materialized_example, limit):
    out = refused(materialized_example, "runs", "--limit", limit)
    assert "--limit" in out and "1" in out


def test_a_negative_wait_is_a_usage_error(materialized_example):
    before = tree(materialized_example / ".duck")
    out = refused(materialized_example, "materialize", "--wait", "-5")
    assert "--wait" in out
    assert tree(materialized_example / ".duck") == before


def test_runs_of_an_unknown_asset_says_so_with_did_you_mean(materialized_example):
    out = refused(materialized_example, "runs", "--asset", "zone_metric")
    assert "unknown asset 'zone_metric'" in out and "Did you mean 'zone_metrics'?" in out


def test_check_junit_xml_to_a_folder_is_refused_before_the_checks_run(project):
    folder = project / "reports"
    folder.mkdir()
    before = catalog_rows(project, "SELECT count(*) FROM check_results")
    out = refused(project, "check", "--junit-xml", str(folder))
    assert "is a folder" in out and "duck.xml" in out
    assert catalog_rows(project, "SELECT count(*) FROM check_results") == before
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("command", ["status", "materialize", "runs"])
def test_duck_now_out_of_range_is_a_usage_error(project, now, command):
    before = tree(project / ".duck")
    out = refused(project, command, now=now)
    assert "DUCK_NOW" in out and "out of range" in out
    assert tree(project / ".duck") == before


def test_a_partitions_definition_too_large_at_the_clock_names_the_asset_and_the_setting(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "m.yaml").write_text("assets:\n  - name: events\n    kind: source\n    source: "
                                 "{path: 'data/{hour}.csv'}\n    partitions: {hourly: "
                                 "{start: '2026-01-01'}}\n")
    t0 = time.perf_counter()
    out = refused(root, "status", now="3000-01-01T00:00:00Z")
    assert time.perf_counter() - t0 < 10
    assert "'events'" in out and "8,537,904 hourly partitions" in out and "max_partitions" in out
    (root / "duck.yaml").write_text("max_partitions: 9000000\n")
    assert invoke(root, "validate", now="3000-01-01T00:00:00Z").exit_code == 0


def test_yaml_bombs_are_refused_fast():
    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"
    for case in ("yaml_billion_laughs", "yaml_nested_too_deep", "yaml_self_alias"):
        t0 = time.perf_counter()
        out = refused(corpus / case, "validate")
        assert time.perf_counter() - t0 < 5, case
        assert "m.yaml" in out


# -- damaged or unwritable state ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["runs", "backfills", "status"])
def test_a_corrupt_catalog_block_is_a_clear_message(project, command):
    path = project / ".duck" / "catalog.duckdb"
    data = bytearray(path.read_bytes())
    data[3 * 4096:] = os.urandom(len(data) - 3 * 4096)
    path.write_bytes(bytes(data))
    warehouse = tree(project / ".duck")["warehouse.duckdb"]
    out = refused(project, command)
    assert "catalog.duckdb" in out and ("Move it aside" in out or "mv " in out), out
    assert path.read_bytes() == bytes(data)
    assert tree(project / ".duck")["warehouse.duckdb"] == warehouse


def test_a_lock_file_that_is_a_folder_is_a_clear_message(project):
    lock = project / ".duck" / "duck.lock"
    lock.unlink()
    lock.mkdir()
    before = tree(project / ".duck")
    out = refused(project, "materialize", "--force")
    assert "duck.lock is a folder" in out and "rmdir" in out
    assert tree(project / ".duck") == before


def test_a_state_folder_that_cannot_be_written_is_a_clear_message(tmp_path):
    """A `.duck` that is not a writable folder (here: a file; as a non-root user also a
    read-only folder) stops every writer with the file and the fix."""
    root = example_copy(tmp_path / "p")
    (root / ".duck").write_text("not a folder")
    for command in ("materialize", "doctor", "prune"):
        args = (command, "--keep-runs", "1") if command == "prune" else (command,)
        out = refused(root, *args)
        assert "duck.lock" in out and "writable" in out
    assert (root / ".duck").read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_a_read_only_state_folder_is_a_clear_message(project):
    state = project / ".duck"
    before = tree(state)
    state.chmod(0o555)
    try:
        out = refused(project, "materialize", "--force")
    finally:
        state.chmod(0o755)
    assert "duck.lock" in out and "writable" in out
    assert tree(state) == before


def _file_limit(size: int):
    def limit() -> None:  # runs in the child: writes past ``size`` bytes fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_full_disk_names_the_file_and_loses_nothing(project):
    """RLIMIT_FSIZE makes every write past the state files' current size fail as a full disk
    does; the message names the file, and every published partition stays recorded."""
    rows = warehouse_rows(project, "SELECT count(*) FROM zone_metrics")
    limit = min(p.stat().st_size for p in (project / ".duck").glob("*.duckdb"))
    done = subprocess.run([str(DUCK_BIN), "materialize", "--force", "-p", str(project)],
                          capture_output=True, text=True, env=duck_env(MORNING),
                          preexec_fn=_file_limit(limit), timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "the disk is full" in done.stderr and ".duckdb" in done.stderr
    assert "Nothing was lost" in done.stderr
    assert warehouse_rows(project, "SELECT count(*) FROM zone_metrics") == rows
    status = run_duck(project, "status", "--json", now=MORNING)
    assert {a["state"] for a in json.loads(status.stdout)["assets"]} == {"fresh"}
    assert check_consistency(project) == []


# -- signals -----------------------------------------------------------------------------------


def test_sigterm_finishes_the_current_step_records_canceled_and_exits_143(project):
    proc = start_duck(project, "materialize", "--force", "--jobs", "1", "--no-progress",
                      now=MORNING, DUCK_FAULT="stage:2:pause=2")
    first = proc.stderr.readline()  # the first step's progress line: the run is under way
    assert first.startswith("["), first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    runs = catalog_rows(project, "SELECT status FROM runs ORDER BY run_id")
    assert runs[-1] == ("canceled",)
    steps = catalog_rows(project, "SELECT status, count(*) FROM steps WHERE run_id = "
                                  "(SELECT max(run_id) FROM runs) GROUP BY ALL")
    # the step in progress (if one had begun) finished; no later one began
    assert set(dict(steps)) == {"success"} and dict(steps)["success"] in (1, 2), steps
    assert check_consistency(project) == []
