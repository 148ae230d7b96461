"""`duck prune`: delete old run history from the catalog, in one transaction."""

from __future__ import annotations

from datetime import datetime

from duck_cli.state.catalog_schema import CURRENT_OF, last_ids


def prune_history(con, keep_runs: int | None, older_than: datetime | None,
                  dry_run: bool = False) -> dict[str, int]:
    """Delete old run history from the catalog open on ``con``, keeping every run that produced
    a current materialization or the latest attempt at a partition (what status and `why`
    explain). A dry run counts the same deletions in the same transaction and rolls it back."""
    con.execute("BEGIN TRANSACTION")
    try:
        doomed = _prunable(con, keep_runs, older_than)
        if doomed:  # ids are issued above the highest recorded: remember the deleted ones
            con.execute("INSERT OR REPLACE INTO counters VALUES ('r', ?), ('b', ?)",
                        list(last_ids(con).values()))
        counts = {t: _delete_runs(con, t, doomed) for t in
                  ("check_results", "steps", "materializations", "runs")}
        if doomed and not dry_run:  # the latest check results left may be older ones: derive
            for statement in CURRENT_OF["check_results"].rebuild():  # them again
                con.execute(statement)
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _prunable(con, keep_runs: int | None, older_than: datetime | None) -> list[str]:
    keep_current = ("SELECT DISTINCT run_id FROM current_materializations "
                    "WHERE run_id IS NOT NULL")
    ranked = ("SELECT run_id, started_at, row_number() OVER (ORDER BY started_at DESC, "
              "run_id DESC) AS rn FROM runs WHERE status NOT IN ('pending', 'running')")
    conds, params = [], []
    if keep_runs is not None:
        conds.append("rn > ?")
        params.append(keep_runs)
    if older_than is not None:
        conds.append("started_at < ?")
        params.append(older_than)
    where = " AND ".join(conds) or "false"
    keep_attempts = "SELECT DISTINCT run_id FROM current_attempts"
    rows = con.execute(f"SELECT run_id FROM ({ranked}) WHERE {where} AND run_id NOT IN "
                            f"({keep_current}) AND run_id NOT IN ({keep_attempts})",
                            params).fetchall()
    return [r[0] for r in rows]


def _delete_runs(con, table: str, run_ids: list[str]) -> int:
    if not run_ids:
        return 0
    if table == "materializations":  # keep the history of the current ones' runs intact
        sql = ("DELETE FROM materializations WHERE list_contains(?, run_id) AND seq NOT IN "
               "(SELECT seq FROM current_materializations)")
    else:
        sql = f"DELETE FROM {table} WHERE list_contains(?, run_id)"
    return con.execute(sql, [run_ids]).fetchone()[0]
