"""`PgStore`: the `StateStore` over a PostgreSQL connection (the schema of
`postgres_schema.py`). The same records and answers as the local catalog (`catalog.py`), in
PostgreSQL's SQL: ``DISTINCT ON`` where DuckDB says ``QUALIFY``, arrays for lists."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from duck_cli.errors import StateError
from duck_cli.records import (Attempt, Backfill, BackfillRecord, BackfillStatus, Batch, CheckRow,
                              Mat, RunRow, Snapshot, StepRecord)
from duck_cli.state import postgres_claims, postgres_prune
from duck_cli.state.postgres_schema import TABLES

_RUN_COLS = "run_id, command, status, started_at, ended_at, pid, host, args, backfill_id, error"
_STEP_COLS = ", ".join(f"s.{f}" for f in StepRecord._fields)
_CHECK_COLS = ("seq, run_id, asset, partition_key, check_name, kind, severity, passed, observed, "
               "failing, message, sample, stage")
LATEST_ATTEMPTS = (
    "SELECT DISTINCT ON (asset, p) seq, run_id, step, asset, p, status, error, error_kind, "
    "code_version, ended_at, input_seq FROM (SELECT s.*, unnest(partitions) AS p FROM "
    "steps s WHERE status IN ('success', 'failed')) x ORDER BY asset, p, seq DESC")
LATEST_CHECKS = (
    f"SELECT DISTINCT ON (asset, partition_key, check_name) {_CHECK_COLS} FROM "
    "check_results ORDER BY asset, partition_key, check_name, seq DESC")
_HIGHEST = ("SELECT coalesce(max(substr({col}, 2)::bigint) FILTER (WHERE substr({col}, 2) ~ "
            "'^[0-9]{{1,18}}$'), 0) FROM {table}")


class PgStore:
    """Queries and writes over an open (autocommit) PostgreSQL connection."""

    def __init__(self, con, where: str):
        self.con = con
        self.path = where  # for messages: where the state lives (never a password)

    def close(self, *, final: bool = True) -> None:
        """Close the connection (``final`` is a local catalog's)."""
        self.con.close()

    def _all(self, sql: str, params=None) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()

    def _one(self, sql: str, params=None):
        return self.con.execute(sql, params).fetchone()[0]

    # -- reading -------------------------------------------------------------------------

    def snapshot(self, scope=None) -> Snapshot:
        """Current materializations, latest attempts and checks, in one consistent read (every
        key's: a ``scope`` only narrows what a local catalog reads)."""
        with self.con.transaction():
            self.con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            current = {(m.asset, m.partition): m for m in (Mat._make(_utc(r, 5)) for r in self._all(
                "SELECT DISTINCT ON (asset, partition_key) seq, asset, partition_key, run_id, "
                "step, created_at, code_version, data_version, row_count, kind FROM "
                "materializations ORDER BY asset, partition_key, seq DESC"))}
            latest = [Attempt._make(_utc(r, 9)) for r in self._all(LATEST_ATTEMPTS)]
            checks = self._failing_checks()
            counts = {r[0]: tuple(r[1:]) for r in self._all(
                f"SELECT asset, count(*) FILTER (WHERE passed), count(*) FILTER (WHERE NOT passed "
                f"AND severity = 'error'), count(*) FILTER (WHERE NOT passed AND severity <> "
                f"'error') FROM ({LATEST_CHECKS}) c GROUP BY asset")}
            active = tuple(RunRow._make(r) for r in self._all(
                f"SELECT {_RUN_COLS} FROM runs WHERE status IN ('pending', 'running')"))
            max_seq = self._one("SELECT coalesce(max(seq), 0) FROM materializations")
            warehouse_id = self.meta("warehouse_id")
        attempts = {(a.asset, a.partition): a for a in latest if a.status == "failed"}
        last: dict[str, Attempt] = {}
        for a in latest:
            if a.asset not in last or a.seq > last[a.asset].seq:
                last[a.asset] = a
        lost = {k: m.data_version or "its data is gone" for k, m in current.items()
                if m.kind == "lost"}
        current = {k: m for k, m in current.items() if m.kind != "lost"}
        return Snapshot(current, attempts, checks, active, max_seq, last, counts, lost,
                        warehouse_id)

    def _failing_checks(self) -> dict[tuple[str, str], tuple[CheckRow, ...]]:
        out: dict[tuple[str, str], list[CheckRow]] = {}
        for r in self._all(f"SELECT * FROM ({LATEST_CHECKS}) c WHERE NOT passed "
                           "ORDER BY asset, partition_key, check_name"):
            row = _check(r)
            out.setdefault((row.asset, row.partition), []).append(row)
        return {k: tuple(v) for k, v in out.items()}

    def meta(self, key: str) -> str | None:
        """A value kept in meta (None when not set)."""
        row = self.con.execute("SELECT value FROM meta WHERE key = %s", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Keep a value in meta."""
        self.con.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", [key, value])

    def runs(self, limit: int = 20, asset: str | None = None) -> list[RunRow]:
        """The latest runs, newest first (optionally only runs that touched an asset)."""
        where = "WHERE run_id IN (SELECT run_id FROM steps WHERE asset = %s)" if asset else ""
        return [RunRow._make(r) for r in self._all(
            f"SELECT {_RUN_COLS} FROM runs {where} ORDER BY started_at DESC, run_id DESC "
            "LIMIT %s", [*([asset] if asset else []), limit])]

    def in_progress(self, run_ids) -> list[RunRow]:
        """Those of ``run_ids`` recorded as pending or running now."""
        return [RunRow._make(r) for r in self._all(
            f"SELECT {_RUN_COLS} FROM runs WHERE status IN ('pending', 'running') AND "
            "run_id = ANY(%s)", [sorted(run_ids)])]

    def run(self, run_id: str) -> RunRow | None:
        """One run by id (or by a unique prefix of it)."""
        rows = self._all(f"SELECT {_RUN_COLS} FROM runs WHERE starts_with(run_id, %s) "
                         "ORDER BY run_id", [run_id])
        return RunRow._make(rows[0]) if len(rows) == 1 else None

    def steps(self, run_id: str) -> list[StepRecord]:
        """The steps of one run, in order."""
        return [StepRecord._make(r) for r in self._all(
            f"SELECT {_STEP_COLS} FROM steps s WHERE run_id = %s ORDER BY step, seq",
            [run_id])]

    def lake_snapshots(self, run_id: str | None = None, asset: str | None = None
                       ) -> dict[tuple[str, int], int]:
        """The DuckLake snapshot each publish made (lake mode), by (run id, step)."""
        rows = self._all(
            "SELECT run_id, step, max((upstream::jsonb ->> 'snapshot')::bigint) AS snap "
            "FROM materializations WHERE kind = 'materialization' "
            "AND upstream LIKE '{%%' AND (%(run)s::text IS NULL OR run_id = %(run)s) "
            "AND (%(asset)s::text IS NULL OR asset = %(asset)s) GROUP BY run_id, step",
            {"run": run_id, "asset": asset})
        return {(r, s): snap for r, s, snap in rows if snap is not None}

    def run_checks(self, run_id: str) -> list[CheckRow]:
        """Check results recorded by one run."""
        return [_check(r) for r in self._all(
            f"SELECT {_CHECK_COLS} FROM check_results WHERE run_id = %s ORDER BY seq",
            [run_id])]

    def backfills(self, backfill_id: str | None = None) -> list[Backfill]:
        """Recorded backfills, newest first, with their runs' statuses."""
        cols = ", ".join("b." + c for c in BackfillRecord._fields)
        rows = self._all(
            f"SELECT {cols}, array_agg(r.run_id ORDER BY r.started_at), array_agg(r.status "
            "ORDER BY r.started_at) FROM backfills b LEFT JOIN runs r ON "
            "r.backfill_id = b.backfill_id "
            + ("WHERE starts_with(b.backfill_id, %s) " if backfill_id else "")
            + "GROUP BY b.backfill_id ORDER BY b.created_at DESC, b.backfill_id DESC",
            [backfill_id] if backfill_id else None)
        return [decode_backfill(r) for r in rows]

    def runners(self, backfill_ids: list[str]) -> dict[str, dict[str, dict[str, list[str]]]]:
        """Shared backfills: per backfill, per runner, per asset, the partitions it built."""
        return postgres_claims.built_by(self.con, backfill_ids)

    def max_step_seq(self) -> int:
        """The highest step/check sequence number recorded."""
        return self._one("SELECT greatest((SELECT coalesce(max(seq), 0) FROM steps), "
                         "(SELECT coalesce(max(seq), 0) FROM check_results))")

    def last_ids(self) -> dict[str, int]:
        """The last run (``r``) and backfill (``b``) number ever issued, pruned ones included."""
        counted = dict(self._all("SELECT name, value FROM counters"))
        return {prefix: max(counted.get(prefix, 0), self._one(
            _HIGHEST.format(col=col, table=table)))
            for prefix, col, table in (("r", "run_id", "runs"), ("b", "backfill_id", "backfills"))}

    # -- writing -------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Write a batch in one transaction (runs and backfills are upserts)."""
        with self.con.transaction():
            for run in batch.runs:
                self._upsert("runs", "run_id", run)
                self._count(run.run_id)
            for bf in batch.backfills:
                if isinstance(bf, BackfillStatus):
                    self.con.execute("UPDATE backfills SET status = %s WHERE backfill_id "
                                     "= %s", [bf.status, bf.backfill_id])
                else:
                    self._upsert("backfills", "backfill_id", bf)
                    self._count(bf.backfill_id)
            for table, rows in (("steps", batch.steps), ("materializations", batch.mats),
                                ("check_results", batch.checks)):
                self._insert(table, rows)

    def _upsert(self, table: str, key: str, row: tuple) -> None:
        cols = row._fields
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
        self.con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                         f"({', '.join(['%s'] * len(cols))}) ON CONFLICT ({key}) DO UPDATE "
                         f"SET {updates}", list(row))

    def _insert(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        cols = rows[0]._fields
        with self.con.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _count(self, issued: str) -> None:
        number = int(issued[1:]) if issued[1:].isdigit() else 0
        self.con.execute("INSERT INTO counters VALUES (%s, %s) ON CONFLICT (name) DO "
                         "UPDATE SET value = greatest(counters.value, excluded.value)",
                         [issued[:1], number])

    def restamp(self, versions: list[tuple[int, str]]) -> None:
        """Rewrite the data version of recorded source observations, by seq."""
        with self.con.transaction():
            self.con.cursor().executemany(
                "UPDATE materializations SET data_version = %s WHERE seq = %s",
                [[v, seq] for seq, v in versions])

    def mark_abandoned(self, run: RunRow, now: datetime) -> None:
        """Mark a run whose process died as abandoned."""
        with self.con.transaction():
            self.con.execute("UPDATE runs SET status = 'abandoned', ended_at = %s, error = %s "
                             "WHERE run_id = %s", [now, f"process {run.pid} on {run.host} died "
                                                   "before the run ended", run.run_id])
            self.con.execute("UPDATE steps SET status = 'abandoned' WHERE run_id = %s AND "
                             "status = 'running'", [run.run_id])
            if run.backfill_id:
                self.con.execute("UPDATE backfills SET status = 'partial' WHERE "
                                 "backfill_id = %s", [run.backfill_id])

    def unrecorded(self, ledger: list[tuple[int, str | None]], recorded_max: int) -> list[int]:
        """Of the ledger's (seq, run_id) pairs, the seqs this state lacks (see StateStore)."""
        if not ledger:
            return []
        return [r[0] for r in self._all(
            "SELECT l.seq FROM unnest(%s::bigint[], %s::text[]) AS l(seq, run_id) WHERE NOT "
            "EXISTS (SELECT 1 FROM materializations m WHERE m.seq = l.seq) AND (l.seq > %s "
            "OR l.run_id IS NULL OR l.run_id IN (SELECT run_id FROM runs)) ORDER BY l.seq",
            [[s for s, _r in ledger], [r for _s, r in ledger], recorded_max])]

    # -- reports and housekeeping --------------------------------------------------------

    def recent_runs(self, limit: int):
        """The newest ``limit`` runs and the steps of each (in step order), by run id."""
        runs = self.runs(limit)
        steps: dict[str, list[StepRecord]] = {r.run_id: [] for r in runs}
        for r in self._all(f"SELECT {_STEP_COLS} FROM steps s WHERE run_id = ANY(%s) "
                           "ORDER BY run_id, step, seq", [list(steps)]) if runs else []:
            steps[r[1]].append(StepRecord._make(r))
        return runs, steps

    def latest_steps(self, per_asset: int) -> dict[str, list[tuple[StepRecord, str | None]]]:
        """Each asset's newest ``per_asset`` steps, newest first, each with its run's command."""
        out: dict[str, list[tuple[StepRecord, str | None]]] = {}
        for row in self._all(
                f"SELECT * FROM (SELECT {_STEP_COLS}, r.command, row_number() OVER (PARTITION BY "
                "s.asset ORDER BY s.seq DESC) AS rn FROM steps s LEFT JOIN runs r "
                "USING (run_id)) x WHERE rn <= %s ORDER BY asset, seq DESC", [per_asset]):
            step = StepRecord._make(row[:-2])
            out.setdefault(step.asset, []).append((step, row[-2]))
        return out

    def check_results(self) -> dict[tuple[str, str], dict]:
        """Per (asset, check): the latest result of each partition, summed, and the newest one."""
        cur = self.con.execute(
            f"WITH latest AS ({LATEST_CHECKS}), agg AS (SELECT asset, check_name, count(*) AS "
            "partitions, count(*) FILTER (WHERE passed) AS passed, array_agg(partition_key ORDER "
            "BY partition_key) FILTER (WHERE NOT passed) AS failing_partitions FROM latest "
            "GROUP BY asset, check_name), newest AS (SELECT DISTINCT ON (asset, check_name) * "
            "FROM latest ORDER BY asset, check_name, seq DESC) SELECT a.asset, a.check_name AS "
            "name, a.partitions, a.passed, n.passed AS last_passed, n.message, n.observed, "
            "n.partition_key AS \"partition\", n.run_id, n.severity, a.failing_partitions FROM "
            "agg a JOIN newest n USING (asset, check_name)")
        cols = [d.name for d in cur.description]
        return {(r[0], r[1]): dict(zip(cols, r)) for r in cur.fetchall()}

    def prune(self, keep_runs: int | None, older_than: datetime | None,
              dry_run: bool = False) -> dict[str, int]:
        """Delete old run history in one transaction (the rules of state/prune.py); a dry run
        counts the same deletions and rolls them back."""
        return postgres_prune.prune(self.con, keep_runs, older_than, dry_run)

    def verify(self) -> None:
        """Read every table."""
        try:
            for table in TABLES:
                self._one(f"SELECT count(*) FROM {table}")
        except Exception as err:  # noqa: BLE001 - any failure here is damage
            raise StateError(f"cannot read the state in {self.path}: "
                             f"{str(err).splitlines()[0]}") from err


def _utc(row: tuple, index: int) -> tuple:
    value = row[index]
    if value is None:
        return row
    return row[:index] + (value.astimezone(timezone.utc),) + row[index + 1:]


def _check(r: tuple) -> CheckRow:
    return CheckRow(*r[:11], json.loads(r[11] or "[]"), r[12])


def decode_backfill(row: tuple) -> Backfill:
    """A backfill from its record and its runs' ids and statuses."""
    *head, requested, options, status, run_ids, run_statuses = row
    return Backfill(*head, json.loads(requested or "{}"), json.loads(options or "{}"), status,
                    [r for r in run_ids or [] if r], [s for s in run_statuses or [] if s])
