"""History reads for reports: recent runs with their steps, each asset's latest steps and its
checks' latest results, each in one query (a report over 10,000 assets must not ask per asset).
"""

from __future__ import annotations

from duck_cli.records import RunRow, StepRecord
from duck_cli.state.catalog import Catalog
from duck_cli.state.catalog_schema import LATEST_CHECKS

_STEP_COLS = ", ".join(f"s.{f}" for f in StepRecord._fields)


def recent_runs(c: Catalog, limit: int) -> tuple[list[RunRow], dict[str, list[StepRecord]]]:
    """The newest ``limit`` runs and the steps of each (in step order), by run id."""
    runs = c.runs(limit)
    steps: dict[str, list[StepRecord]] = {r.run_id: [] for r in runs}
    if runs:
        rows = c.con.execute(f"SELECT {_STEP_COLS} FROM steps s WHERE list_contains(?, s.run_id) "
                             "ORDER BY s.run_id, s.step, s.seq", [[r.run_id for r in runs]])
        for step in map(StepRecord._make, rows.fetchall()):
            steps[step.run_id].append(step)
    return runs, steps


def latest_steps(c: Catalog, per_asset: int) -> dict[str, list[tuple[StepRecord, str | None]]]:
    """Each asset's newest ``per_asset`` steps, newest first, each with its run's command."""
    out: dict[str, list[tuple[StepRecord, str | None]]] = {}
    rows = c.con.execute(f"SELECT {_STEP_COLS}, r.command FROM steps s LEFT JOIN runs r USING "
                         "(run_id) QUALIFY row_number() OVER (PARTITION BY s.asset ORDER BY "
                         "s.seq DESC) <= ? ORDER BY s.asset, s.seq DESC", [per_asset]).fetchall()
    for row in rows:
        step = StepRecord._make(row[:-1])
        out.setdefault(step.asset, []).append((step, row[-1]))
    return out


def check_results(c: Catalog) -> dict[tuple[str, str], dict]:
    """Per (asset, check): the latest result of each partition, summed, and the newest one."""
    cur = c.con.execute(
        "SELECT asset, check_name AS name, count(*) AS partitions, "
        "count(*) FILTER (WHERE passed) AS passed, arg_max(passed, seq) AS last_passed, "
        "arg_max(message, seq) AS message, arg_max(observed, seq) AS observed, "
        "arg_max(partition_key, seq) AS partition, arg_max(run_id, seq) AS run_id, "
        "arg_max(severity, seq) AS severity, list(partition_key ORDER BY partition_key) "
        f"FILTER (WHERE NOT passed) AS failing_partitions FROM ({LATEST_CHECKS}) GROUP BY ALL")
    cols = [d[0] for d in cur.description]
    return {(r[0], r[1]): dict(zip(cols, r)) for r in cur.fetchall()}
