"""The local catalog's history reads for reports: recent runs with their steps, each asset's
latest steps and its checks' latest results, each in one query (a report over 10,000 assets must
not ask per asset), and the comparison with the warehouse ledger. A mixin of `Catalog`, over its
DuckDB connection ``self.con``; other state stores implement the same `StateStore` methods.
"""

from __future__ import annotations

from datetime import datetime

from duck_cli.errors import StateError
from duck_cli.records import RunRow, StepRecord
from duck_cli.state import prune as pruning
from duck_cli.state.catalog_schema import LATEST_CHECKS, TABLES

_STEP_COLS = ", ".join(f"s.{f}" for f in StepRecord._fields)


class History:
    """Report queries over ``self.con`` (a catalog connection)."""

    con = None  # set by Catalog

    def recent_runs(self, limit: int) -> tuple[list[RunRow], dict[str, list[StepRecord]]]:
        """The newest ``limit`` runs and the steps of each (in step order), by run id."""
        runs = self.runs(limit)
        steps: dict[str, list[StepRecord]] = {r.run_id: [] for r in runs}
        if runs:
            rows = self.con.execute(f"SELECT {_STEP_COLS} FROM steps s WHERE list_contains(?, "
                                    "s.run_id) ORDER BY s.run_id, s.step, s.seq",
                                    [[r.run_id for r in runs]])
            for step in map(StepRecord._make, rows.fetchall()):
                steps[step.run_id].append(step)
        return runs, steps

    def latest_steps(self, per_asset: int) -> dict[str, list[tuple[StepRecord, str | None]]]:
        """Each asset's newest ``per_asset`` steps, newest first, each with its run's command."""
        out: dict[str, list[tuple[StepRecord, str | None]]] = {}
        rows = self.con.execute(
            f"SELECT {_STEP_COLS}, r.command FROM steps s LEFT JOIN runs r USING (run_id) "
            "QUALIFY row_number() OVER (PARTITION BY s.asset ORDER BY s.seq DESC) <= ? "
            "ORDER BY s.asset, s.seq DESC", [per_asset]).fetchall()
        for row in rows:
            step = StepRecord._make(row[:-1])
            out.setdefault(step.asset, []).append((step, row[-1]))
        return out

    def check_results(self) -> dict[tuple[str, str], dict]:
        """Per (asset, check): the latest result of each partition, summed, and the newest one."""
        cur = self.con.execute(
            "SELECT asset, check_name AS name, count(*) AS partitions, "
            "count(*) FILTER (WHERE passed) AS passed, arg_max(passed, seq) AS last_passed, "
            "arg_max(message, seq) AS message, arg_max(observed, seq) AS observed, "
            "arg_max(partition_key, seq) AS partition, arg_max(run_id, seq) AS run_id, "
            "arg_max(severity, seq) AS severity, list(partition_key ORDER BY partition_key) "
            f"FILTER (WHERE NOT passed) AS failing_partitions FROM ({LATEST_CHECKS}) GROUP BY ALL")
        cols = [d[0] for d in cur.description]
        return {(r[0], r[1]): dict(zip(cols, r)) for r in cur.fetchall()}

    def unrecorded(self, ledger: list[tuple[int, str | None]], recorded_max: int) -> list[int]:
        """Of the ledger's (seq, run_id) pairs, the seqs this catalog lacks (see StateStore)."""
        if not ledger:
            return []
        seqs, run_ids = [s for s, _r in ledger], [r for _s, r in ledger]
        return [r[0] for r in self.con.execute(
            "SELECT l.seq FROM (SELECT unnest(?) AS seq, unnest(?) AS run_id) l ANTI JOIN "
            "materializations m USING (seq) WHERE l.seq > ? OR l.run_id IS NULL OR l.run_id IN "
            "(SELECT run_id FROM runs) ORDER BY l.seq", [seqs, run_ids, recorded_max]).fetchall()]

    def prune(self, keep_runs: int | None, older_than: datetime | None,
              dry_run: bool = False) -> dict[str, int]:
        """Delete old run history in one transaction (see state/prune.py); a dry run counts
        the same deletions and rolls them back."""
        return pruning.prune_history(self.con, keep_runs, older_than, dry_run)

    def verify(self) -> None:
        """Read every table, every block of it (DuckDB checks each block's checksum)."""
        try:
            for table in TABLES:
                self.con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} t").fetchone()
        except Exception as err:  # noqa: BLE001 - any failure here is damage
            raise StateError(f"cannot read {self.path}: {str(err).splitlines()[0]}") from err
