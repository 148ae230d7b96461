"""An error duck did not expect (a bug in duck) is one paragraph and exit code 70, never a
traceback; the next command records what was published; DUCK_DEBUG shows the traceback.

The bug is a real exception raised inside a real run (DUCK_FAULT=point:N:raise), not a mock.
"""

from __future__ import annotations

import json

from conftest import MORNING, catalog_rows, example_copy, invoke, warehouse_rows
from reliability_check import run_duck

RAISE = {"DUCK_FAULT": "catalog:1:raise"}  # the first catalog flush of the run raises


def test_an_unexpected_error_is_one_paragraph_with_exit_code_70(project):
    result = invoke(project, "materialize", env=RAISE)
    assert result.exit_code == 70, result.output
    text = " ".join(result.output.split())
    assert "`duck materialize` stopped on an error duck did not expect" in text
    assert "RuntimeError: fault injected at catalog" in text
    assert "a bug in duck" in text and "DUCK_DEBUG=1" in text


def test_the_json_error_document_names_it_internal(project):
    result = invoke(project, "materialize", "--json", env=RAISE)
    assert result.exit_code == 70
    doc = json.loads(result.stdout)
    assert doc["kind"] == "error"
    assert (doc["error"]["code"], doc["error"]["exit_code"]) == ("internal", 70)


def test_the_next_command_records_what_the_broken_one_published(project, tmp_path):
    assert invoke(project, "materialize", env=RAISE).exit_code == 70
    assert invoke(project, "materialize").exit_code == 0
    clean = example_copy(tmp_path / "clean")
    assert invoke(clean, "materialize").exit_code == 0
    count = "SELECT count(*) FROM materializations WHERE kind = 'materialization'"
    # what the broken run published is recorded once, not rebuilt, not lost
    assert catalog_rows(project, count) == catalog_rows(clean, count)
    assert catalog_rows(project, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    revenue = "SELECT * FROM daily_revenue ORDER BY ALL"
    assert warehouse_rows(project, revenue) == warehouse_rows(clean, revenue)
    assert invoke(project, "status", "--fail-on", "stale").exit_code == 0


def test_the_installed_duck_prints_no_traceback_and_debug_shows_it(project):
    plain = run_duck(project, "materialize", now=MORNING, **RAISE)
    assert plain.returncode == 70, plain.stderr
    assert "Traceback" not in plain.stderr + plain.stdout
    assert "stopped on an error duck did not expect" in " ".join(plain.stderr.split())
    debug = run_duck(project, "materialize", now=MORNING, DUCK_DEBUG="1", **RAISE)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "RuntimeError: fault injected" in debug.stderr
