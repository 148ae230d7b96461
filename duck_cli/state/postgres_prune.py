"""`duck prune` on the PostgreSQL state: the rules of `prune.py` in PostgreSQL's SQL."""

from __future__ import annotations

from datetime import datetime

_KEEP_CURRENT = ("SELECT DISTINCT ON (asset, partition_key) run_id FROM materializations "
                 "ORDER BY asset, partition_key, seq DESC")
_KEEP_ATTEMPTS = ("SELECT DISTINCT ON (asset, p) run_id FROM (SELECT run_id, asset, seq, "
                  "unnest(partitions) AS p FROM steps WHERE status IN ('success', "
                  "'failed')) x ORDER BY asset, p, seq DESC")


def prune(con, keep_runs: int | None, older_than: datetime | None,
          dry_run: bool = False) -> dict[str, int]:
    """Delete old run history in one transaction, keeping every run that produced a current
    materialization or the latest attempt at a partition; rows deleted per table. A dry run
    counts the same deletions and rolls them back."""
    from psycopg import Rollback

    with con.transaction() as tx:
        doomed = _prunable(con, keep_runs, older_than)
        counts = {t: _delete(con, t, doomed) for t in
                  ("check_results", "steps", "materializations", "runs")}
        if dry_run:
            raise Rollback(tx)  # leaves the block with the deletions undone
    return counts


def _prunable(con, keep_runs: int | None, older_than: datetime | None) -> list[str]:
    ranked = ("SELECT run_id, started_at, row_number() OVER (ORDER BY started_at DESC, "
              "run_id DESC) AS rn FROM runs WHERE status NOT IN ('pending', 'running')")
    conds, params = [], []
    if keep_runs is not None:
        conds.append("rn > %s")
        params.append(keep_runs)
    if older_than is not None:
        conds.append("started_at < %s")
        params.append(older_than)
    where = " AND ".join(conds) or "false"
    rows = con.execute(
        f"SELECT run_id FROM ({ranked}) r WHERE {where} AND run_id NOT IN (SELECT run_id FROM "
        f"({_KEEP_CURRENT}) c WHERE run_id IS NOT NULL) AND run_id NOT IN (SELECT run_id FROM "
        f"({_KEEP_ATTEMPTS}) a WHERE run_id IS NOT NULL)", params).fetchall()
    return [r[0] for r in rows]


def _delete(con, table: str, run_ids: list[str]) -> int:
    if not run_ids:
        return 0
    if table == "materializations":  # keep the history of the current ones' runs intact
        sql = ("DELETE FROM materializations WHERE run_id = ANY(%s) AND seq NOT IN "
               "(SELECT max(seq) FROM materializations GROUP BY asset, partition_key)")
    else:
        sql = f"DELETE FROM {table} WHERE run_id = ANY(%s)"
    return con.execute(sql, [run_ids]).rowcount
