"""Building one step into a DuckLake warehouse: write, audit, publish, with the publish retried.

The SQL runs into a TEMP staging table (local to this process: nothing in the lake is held
while it computes) and the blocking checks run there. Only then one DuckLake transaction
replaces the table or the partitions' slice (DELETE + INSERT) and adds the ledger rows, so a
reader of the lake sees the old slice or the new one, never half of it and never rows that
failed a check. DuckLake detects conflicts per table (two runners replacing different slices
of one table conflict) and its own retry gives up under contention: the whole publish
transaction is tried again, after a random pause that grows, up to a bound; the staged rows
stay staged meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from duck_cli.graph import partitions as parts
from duck_cli.records import RunStatus
from duck_cli.models import STATEFUL
from duck_cli.run import contracts, files_output, python_asset
from duck_cli.run.build import Builder
from duck_cli.run.group import with_snapshot
from duck_cli.run.transaction import (SliceError, attempts, commit_with_ledger, outside_rows,
                                     rollback_or_raise, slice_counts, used_params)
from duck_cli.sql import quote_ident
from duck_cli.state.lake_config import is_conflict, redact

STAGE = "__duck_stage"


class LakeBuilder(Builder):
    """A `Builder` for a lake: stage locally, audit, then publish in a retried transaction."""

    staged = False  # whether the rows are in the local stage (not in a group transaction)
    slice_stage: str | None = None  # a group member's own stage, made before the transaction
    stage_started: datetime | None = None  # when `stage_slice` began, and its seconds
    stage_seconds = 0.0
    slice_counts: dict[str, int] | None = None  # the stage's rows per key (`stage_slice`)

    def stage_slice(self) -> None:
        """Before a group's transaction (`group.run_group`): the step's SQL into a TEMP stage
        of its own, its rows then counted per partition there and refused if any falls outside
        (`counted_stage`).
        In the transaction the slice is then replaced from it (`clear_slice`, then
        `group.insert_slices`), not read back from the lake to count it (a round trip and a
        read of the files just written, 15-70 ms a step); TEMP tables are a second database,
        written before the lake's transaction begins."""
        import time

        self.stage_started, t0 = self.s.clock(), time.perf_counter()
        name = quote_ident(f"{STAGE}_{self.step}")
        self.wh.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                            f"{self.asset.materialize.sql}", _params(self))
        self.slice_stage = name
        self.stage_seconds = time.perf_counter() - t0

    def counted_stage(self, counts: dict[str, int], outside: int) -> None:
        """Take the stage's rows per partition key (`group.count_stages`), refusing rows that
        fall outside the step's partitions."""
        if outside:
            raise outside_rows(self.asset, self.keys, outside)
        self.slice_counts = {self.keys[0]: sum(counts.values())} if len(self.keys) == 1 \
            else counts  # one key: every row inside is its, whatever the key expression says

    def drop_slice_stage(self) -> None:
        """Drop the stage `stage_slice` made (after the group's transaction ended)."""
        if self.slice_stage is not None:
            self.wh.con.execute(f"DROP TABLE IF EXISTS temp.main.{self.slice_stage}")
            self.slice_stage = None

    def clear_slice(self, made: set[str]) -> None:
        """Make room for the staged slice (in the group's transaction, before any step of it
        inserts: a DELETE after inserts into the same table in one DuckLake transaction reads
        those inserts too, several times slower): delete the slice; or, when the table does
        not exist yet, create it empty with the stage's columns (``made``: the relations this
        transaction created, whose slices are empty)."""
        name = self.asset.relation
        if name not in made and self.wh.table_kind(name) is not None:
            self.delete_slice()
            return
        if name not in made:
            self.wh.con.execute(f"CREATE TABLE {self.wh.relation(name)} AS SELECT * FROM "
                                f"{self.slice_stage} LIMIT 0")
            self.wh.mark(name, "BASE TABLE")
            made.add(name)

    def replace_slice(self) -> int:
        """As `Builder.replace_slice`; a staged slice (`stage_slice`) is in the table already,
        inserted with the group's other slices of it (`group.insert_slices`): its rows, as
        counted in its stage."""
        if self.slice_stage is None:
            return super().replace_slice()
        self.counted = dict(self.slice_counts)
        return sum(self.slice_counts.values())

    def build(self, started: datetime):
        """Build with the step's source inputs in place."""
        if self.asset.materialize.python is not None:  # the same path, staged from Python
            return (files_output if self.asset.is_files else python_asset).run(self, started)
        if self.asset.materialize.strategy == "view":
            return self.with_retries(started, lambda: self.publish_view(started))
        return self.run_staged(started)

    def run_staged(self, started: datetime):
        """Stage locally, audit there, then publish in one retried lake transaction."""
        from duck_cli.engine import duckdb

        try:
            self.staged = True
            self.stage_locally()
            self.s.faults.hit("stage")
            relation = quote_ident(STAGE)
            rows = self.count_and_verify(relation)
            broken = contracts.staged_problems(self.wh.con, self.asset, relation) \
                if self.asset.columns else None
            if broken:
                return self.result(started, RunStatus.FAILED, rows, [], broken, "contract")
            checks = self.audit(relation)
            self.s.faults.hit("checks")
            failed = self.failed_checks(started, rows, checks)
            if failed is not None:
                return failed
            return self.with_retries(started, lambda: self.publish_staged(started, rows, checks))
        except SliceError as err:
            return self.slice_failed(started, err)
        except (duckdb.Error, RuntimeError) as err:
            return self.sql_failed(started, err)
        finally:
            self.wh.con.execute(f"DROP TABLE IF EXISTS temp.main.{quote_ident(STAGE)}")

    def stage_locally(self) -> None:
        """The step's SQL (or what its Python function returns) into the local TEMP stage."""
        if self.asset.materialize.python is not None:
            python_asset.stage_temp(self)
            return
        con, sql = self.wh.con, self.asset.materialize.sql
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(STAGE)} AS {sql}", _params(self))

    def failed_checks(self, started: datetime, rows: int, checks: list):
        """The failed result when a check could not run or a blocking check failed; else None."""
        if any(not c.passed for c in checks) and not self.transaction_usable():
            msg = "; ".join(f"check {c.name} could not run: {c.message}"
                            for c in checks if not c.passed)
            return self.result(started, RunStatus.FAILED, rows, checks, msg, "check")
        bad = [c for c in checks if c.blocking]
        if not bad:
            return None
        msg = "; ".join(f"check {c.name} failed: {c.message}" for c in bad)
        res = self.result(started, RunStatus.FAILED, rows, checks, msg, "check")
        res.data_error = True
        return res

    def with_retries(self, started: datetime, publish):
        """Run ``publish`` (one transaction) until it commits, failing the step with the asset
        and partitions named once ATTEMPTS conflicting transactions are spent."""
        from duck_cli.engine import duckdb

        tried = 0
        for tried in attempts():
            try:
                return publish()
            except SliceError as err:
                return self.slice_failed(started, err)
            except (duckdb.Error, RuntimeError) as err:
                if not is_conflict(err):
                    return self.sql_failed(started, err)
                rollback_or_raise(self.wh, err)
        where = f"{self.asset.name} {parts.compact(self.asset.partitions, self.keys)}" \
            if self.asset.partitions else self.asset.name
        msg = (f"{where}: the lake refused the publish {tried + 1} times because other writers "
               "changed the same table at the same moment (DuckLake transaction conflicts); "
               "nothing was published. Run the command again, or run fewer writers on this table")
        return self.result(started, RunStatus.FAILED, None, [], msg, "sql")

    def publish_staged(self, started: datetime, rows: int, checks: list):
        """One transaction: replace the table or the slice from the stage, add the ledger."""
        self.wh.begin()
        self.label()
        strategy = self.asset.materialize.strategy
        if strategy == "table":
            self.replace_from(quote_ident(STAGE))
        elif strategy in STATEFUL:  # the stage is dropped after the transaction (`build`)
            self.apply_stateful(quote_ident(STAGE))
            rows = self.wh.con.execute(  # the table's rows, not the batch's
                f"SELECT count(*) FROM {self.wh.relation(self.asset.relation)}").fetchone()[0]
        else:
            self.replace_slice_from(quote_ident(STAGE))
        self.s.faults.hit("publish")
        return self.finish(started, rows, checks)

    def publish_view(self, started: datetime):
        """One transaction: (re)create the view, audit it, add the ledger (or roll back)."""
        self.wh.begin()
        self.label()
        relation = self.stage()  # a view is created in place: the transaction hides it
        rows = self.count_and_verify(relation)
        checks = self.audit(relation)
        failed = self.failed_checks(started, rows, checks)
        if failed is not None:
            self.wh.rollback()
            return failed
        return self.finish(started, rows, checks)

    def per_key_counts(self, rows: int) -> dict[str, int]:
        """Rows per partition key, counted in the local stage (what the slice now holds),
        not by reading the slice back from the lake."""
        if len(self.keys) == 1 or self.asset.materialize.strategy != "incremental" \
                or not self.staged:  # in a group transaction: read from the slice itself
            return super().per_key_counts(rows)
        return slice_counts(self.wh.con, self.asset, self.keys, quote_ident(STAGE),
                            self.predicate())

    def sql_failed(self, started: datetime, err: Exception):
        """As `Builder.sql_failed`, with any connection secret blanked (a lake error can quote
        the catalog's connection string)."""
        res = super().sql_failed(started, err)
        res.error = redact(res.error) if res.error else res.error
        return res

    def label(self) -> None:
        """Name the snapshot this publish makes after its run and step."""
        self.wh.label_commit(self.run_id, [(self.step, self.asset.name)])

    def replace_from(self, relation: str) -> None:
        """Replace the whole table with the staged rows (in the caller's transaction)."""
        name = self.asset.relation
        if self.wh.table_kind(name) == "VIEW":
            self.wh.drop(name)
        self.wh.con.execute(f"CREATE OR REPLACE TABLE {self.wh.relation(name)} AS "
                            f"SELECT * FROM {relation}")
        self.wh.mark(name, "BASE TABLE")

    def finish(self, started: datetime, rows: int, checks: list):
        """Commit with the ledger (see `Builder.finish`), noting the lake snapshot the publish
        made in its materializations (what `runs show` and `why` name)."""
        self.drop_moved()
        with self.s.commit_lock:
            ledger = self.ledger(rows)
            commit_with_ledger(self.s, self.wh, ledger)
            snapshot = self.wh.snapshot_id()  # commits in this process are serialised here
        self.s.faults.hit("published")
        res = self.result(started, RunStatus.SUCCESS, rows, checks, None, None)
        [res.ledger] = with_snapshot([ledger], snapshot)
        return res


def _params(b: Builder) -> dict:
    return used_params(b.asset.materialize.sql, b.params)
