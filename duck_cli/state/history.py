"""History reads for reports: recent runs with their steps, each asset's latest steps and its
checks' latest results, each in one query (a report over 10,000 assets must not ask per asset).
"""

from __future__ import annotations

from datetime import timezone

from duck_cli.records import RunRow
from duck_cli.state.catalog import _LATEST_CHECKS, Catalog

_STEP_COLS = ("run_id, step, asset, partitions, status, started_at, ended_at, error, "
              "error_kind, row_count")


def recent_runs(c: Catalog, limit: int) -> tuple[list[RunRow], dict[str, list[dict]]]:
    """The newest ``limit`` runs and the steps of each (in step order), by run id."""
    runs = c.runs(limit)
    steps: dict[str, list[dict]] = {r.run_id: [] for r in runs}
    if runs:
        for row in _dicts(c, f"SELECT {_STEP_COLS} FROM steps WHERE list_contains(?, run_id) "
                             "ORDER BY run_id, step", [[r.run_id for r in runs]]):
            steps[row["run_id"]].append(row)
    return runs, steps


def latest_steps(c: Catalog, per_asset: int) -> dict[str, list[dict]]:
    """Each asset's newest ``per_asset`` steps, newest first, with their run's command."""
    out: dict[str, list[dict]] = {}
    rows = _dicts(c, f"SELECT s.{_STEP_COLS.replace(', ', ', s.')}, r.command FROM steps s "
                     "LEFT JOIN runs r USING (run_id) QUALIFY row_number() OVER "
                     "(PARTITION BY s.asset ORDER BY s.seq DESC) <= ? "
                     "ORDER BY s.asset, s.seq DESC", [per_asset])
    for row in rows:
        out.setdefault(row["asset"], []).append(row)
    return out


def check_results(c: Catalog) -> dict[tuple[str, str], dict]:
    """Per (asset, check): the latest result of each partition, summed, and the newest one."""
    rows = _dicts(c, "SELECT asset, check_name AS name, count(*) AS partitions, "
                     "count(*) FILTER (WHERE passed) AS passed, arg_max(passed, seq) AS last_passed, "
                     "arg_max(message, seq) AS message, arg_max(observed, seq) AS observed, "
                     "arg_max(partition_key, seq) AS partition, arg_max(run_id, seq) AS run_id, "
                     "arg_max(severity, seq) AS severity, "
                     "list(partition_key ORDER BY partition_key) FILTER (WHERE NOT passed) "
                     f"AS failing_partitions FROM ({_LATEST_CHECKS}) GROUP BY ALL", [])
    return {(r["asset"], r["name"]): r for r in rows}


def _dicts(c: Catalog, sql: str, params: list) -> list[dict]:
    cur = c.con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [_utc(dict(zip(cols, r))) for r in cur.fetchall()]


def _utc(row: dict) -> dict:
    """Timestamps as aware UTC datetimes (DuckDB hands TIMESTAMPTZ back in the session zone)."""
    for key in ("started_at", "ended_at"):
        value = row.get(key)
        if value is not None:
            row[key] = value.astimezone(timezone.utc)
    return row
