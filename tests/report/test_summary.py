"""More rows than a screen holds: `status` and `plan` print a summary that fits the terminal
(counts by state and reason, the worst first, the oldest breaches, how to see everything);
`--all` and `--json` still give every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke

T0 = "2026-03-13T06:00:00+00:00"
T2 = "2026-03-13T09:00:00+00:00"  # three hours later: the chain heads' 1h max lag is breached
CHAINS, LINKS = 6, 10


def chain_project(root: Path, broken: str | None = None) -> Path:
    """Six chains of ten one-row tables; each head promises a 1h max lag."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "duck.yaml").write_text("batch_size: 1\n")
    lines = ["assets:"]
    for c in range(CHAINS):
        for link in range(LINKS):
            name = f"c{c}_{link}"
            sql = f"SELECT {c} AS x" if link == 0 else f"SELECT x + 1 AS x FROM c{c}_{link - 1}"
            if name == broken:
                sql = f"SELECT no_such_column FROM c{c}_{link - 1}"
            lines.append(f"  - name: {name}\n    materialize: {{sql: \"{sql}\"}}")
            if link:
                lines.append(f"    deps: [c{c}_{link - 1}]")
            else:
                lines.append("    freshness: {max_lag: 1h}")
    (root / "assets.yaml").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def unhealthy(tmp_path) -> Path:
    """Built at T0 with c2_3's SQL broken: c2_3 failed, c2_4..c2_9 never built and blocked by
    it, every head's freshness breached at T2."""
    root = chain_project(tmp_path / "chains", broken="c2_3")
    assert invoke(root, "materialize", now=T0).exit_code == 1
    return root


@pytest.mark.parametrize("columns", ["80", "120"])
def test_status_summary_fits_the_terminal(unhealthy, columns):
    out = invoke(unhealthy, "status", now=T2, env={"COLUMNS": columns}).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= int(columns), out
    assert len(lines) < 60, out  # 60 assets, not 60 rows plus a table
    assert "60 assets" in lines[0] and "1 failed" in lines[0], lines[0]
    for part in ("By reason", "Worst first", "Oldest breaches", "duck status --all", "--json"):
        assert part in out, (part, out)
    worst = out[out.index("Worst first"):]
    assert worst.index("c2_3") < worst.index("c2_4")  # the failure before what it holds back
    assert "blocked by c2_3" in worst and "c5_0" not in worst  # ten rows, the worst
    assert "never_materialized" in out and "last_run_failed" in out


def test_status_all_and_json_stay_complete(unhealthy):
    listed = invoke(unhealthy, "status", "--all", now=T2, env={"COLUMNS": "120"}).stdout
    assert all(f"c{c}_{i}" in listed for c in range(CHAINS) for i in range(LINKS))
    assert "Worst first" not in listed
    doc = json.loads(invoke(unhealthy, "status", "--json", now=T2).stdout)
    assert len(doc["assets"]) == CHAINS * LINKS


def test_a_small_selection_is_a_full_table(unhealthy):
    out = invoke(unhealthy, "status", "c2_0+", now=T2, env={"COLUMNS": "120"}).stdout
    assert "Worst first" not in out and all(f"c2_{i}" in out for i in range(LINKS))


@pytest.mark.parametrize("columns", ["80", "120"])
def test_plan_summary_fits_the_terminal(tmp_path, columns):
    root = chain_project(tmp_path / "chains")
    out = invoke(root, "plan", now=T0, env={"COLUMNS": columns}).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= int(columns), out
    assert len(lines) < 40, out
    assert "60 step(s)" in lines[0] and "never_materialized" in out
    assert "First steps: 10 of 60" in out and "duck plan --all" in out
    full = invoke(root, "plan", "--all", now=T0, env={"COLUMNS": columns}).stdout
    assert all(f"c{c}_{i}" in full for c in range(CHAINS) for i in range(LINKS))
    doc = json.loads(invoke(root, "plan", "--json", now=T0).stdout)
    assert len(doc["steps"]) == CHAINS * LINKS


def test_plan_summary_names_what_holds_work_back(unhealthy):
    out = invoke(unhealthy, "plan", "--force", now=T2, env={"COLUMNS": "80"}).stdout
    assert "Summary of 60 step(s)" in out and "freshness_breached" in out, out


def test_a_terminal_taller_than_the_rows_gets_the_table(tmp_path):
    root = chain_project(tmp_path / "chains")
    out = invoke(root, "plan", now=T0, env={"COLUMNS": "120", "LINES": "100"}).stdout
    assert "First steps" not in out and "c5_9" in out
