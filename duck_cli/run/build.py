"""Building one step: stage the SQL, audit it with the checks, publish it, write the ledger.

Write, audit, publish in one warehouse transaction: consumers never see half a rebuild or data
that failed a blocking check, and a crash at any point leaves the previous data in place.
"""

from __future__ import annotations

import json
from datetime import datetime

from duck_cli.code_version import kept, moved_keys
from duck_cli.graph import partitions as parts
from duck_cli.run import (contracts, evolve, files_output, inputs, python_asset,
                          scope, strategies)
from duck_cli.run.prelude import create_macros
from duck_cli.run.reads import local_reads
from duck_cli.run.session import StepResult
from duck_cli.run.transaction import (SliceError, commit_with_ledger, rollback_or_raise, sql_error,
                                      direct_ok, outside_rows, slice_counts, used_params)
from duck_cli.models import STATEFUL, Asset
from duck_cli.records import LedgerRow, RunStatus
from duck_cli.sql import quote_ident, slice_predicate
from duck_cli.state.warehouse import ledger_row

STAGE = "__duck_stage"


class Builder:
    """Builds one asset over some partitions in one warehouse transaction."""

    def __init__(self, s, asset: Asset, keys: list[str], run_id: str, step: int, wh=None):
        self.wh = wh or s.wh  # a worker thread's own connection when steps run concurrently
        self.s, self.asset, self.keys, self.run_id, self.step = s, asset, keys, run_id, step
        self.input_seq = 0
        self.params = parts.sql_params(asset.partitions, keys) if asset.partitions else {}
        self.inputs: list = []  # inputs.SourceInput: the source files the step reads
        self.full_refresh = False  # --force on append/merge/snapshot: rebuild from scratch
        self.emptied: list[str] = []  # columns the SQL no longer produces (`drop_emptied`)
        self.kept: dict[str, int] = {}  # keys rebuilt for added nullable columns only: the
        # sequence number their readers still rely on (code_version.kept)
        self.fast_inputs = self.sniffed_once = False  # inputs read with options sniffed once
        self.counted: dict[str, int] | None = None  # rows per key `replace_slice` counted

    def run(self, started: datetime):
        """Build the step in one transaction; a StepResult either way."""
        try:
            self.open_inputs()
            self.sniffed_once = self.fast_inputs
        except inputs.SourceFileError as err:
            res = self.result(started, "failed", None, [], f"{err.message} ({err.hint})", "source")
            res.data_error = True  # a batch is retried day by day: only the bad file's fail
            return res
        try:
            result = self.build(started)
            if self.sniffed_once and result.status == RunStatus.FAILED and \
                    result.error_kind == "sql" and result.data_error:
                # a value the sniffed options did not foresee: read the files as usual (not
                # after a lake's conflicts, nor an error in the SQL itself)
                inputs.drop(self.wh.con, self.inputs)
                self.open_inputs(fast=False)
                result = self.build(started)
            return result
        finally:
            inputs.drop(self.wh.con, self.inputs)

    def build(self, started: datetime):
        """Build with the step's source inputs in place."""
        from duck_cli.engine import duckdb

        a = self.asset
        try:
            create_macros(self.wh.con, self.s.project, a.macros)
        except duckdb.Error as err:
            return self.result(started, RunStatus.FAILED, None, [],
                               f"a macro it calls cannot be created: {sql_error(err)}", "sql")
        if a.materialize.python is not None:  # the body is Python: same stage, audit, publish
            return (files_output if a.is_files else python_asset).run(self, started)
        if a.materialize.strategy == "table" and not a.checks and not a.columns:
            return self.run_table(started)
        if direct_ok(self.s, self.wh, self.asset):  # insert the slice straight into the table
            result = self.run_direct(started)
            if result is not None:
                return result
        return self.run_staged(started)

    def open_inputs(self, fast: bool = True) -> None:
        """Expose the step's partitioned sources as views over exactly its files (with
        ``fast``, read with the options sniffed once: `sniffed`); a source whose whole-source
        view failed fails its other readers with that error."""
        for dep in self.asset.upstream:
            err = self.s.source_errors.get(dep)
            if err is not None and not any(i.source.name == dep for i in self.inputs):
                raise inputs.SourceFileError(err.message, asset=dep, hint=err.hint)
        self.fast_inputs = inputs.expose(
            self.wh.con, self.inputs, self.s.headers,
            lambda source, mine: inputs.other_files(self.s, source, mine), fast=fast)
        self.asset = local_reads(self.wh, self.asset, [i.source for i in self.inputs],
                                 self.s.project.assets)

    def create_empty(self) -> bool:
        """Create the asset's new incremental table, empty, with the columns its SQL gives
        these partitions, in a transaction of its own: every slice can then be built side by
        side (`Runner.run_concurrently`) instead of all after the first. False if that cannot
        be done here (a missing input, an SQL error): the first step then creates the table,
        and says what is wrong."""
        from duck_cli.engine import duckdb

        try:
            self.open_inputs()
        except inputs.SourceFileError:
            return False
        try:
            create_macros(self.wh.con, self.s.project, self.asset.macros)
            sql, name = self.asset.materialize.sql, self.asset.relation
            self.wh.begin()
            self.wh.con.execute(f"CREATE TABLE {self.wh.relation(name)} AS SELECT * FROM (\n"
                                f"{sql}\n) LIMIT 0", used_params(sql, self.params))
            self.wh.mark(name, "BASE TABLE")
            self.wh.commit()
            return True
        except duckdb.Error as err:
            rollback_or_raise(self.wh, err)
            return False
        finally:
            inputs.drop(self.wh.con, self.inputs)

    def replace_table(self) -> int:
        """Replace the whole table from the SQL (inside the caller's transaction); its rows."""
        name = self.asset.relation
        if self.wh.table_kind(name) == "VIEW":
            self.wh.drop(name)
        rows = self.wh.con.execute(f"CREATE OR REPLACE TABLE {self.wh.relation(name)} AS "
                                   f"{self.asset.materialize.sql}").fetchone()[0]
        self.wh.mark(name, "BASE TABLE")
        self.s.faults.hit("stage")
        self.s.faults.hit("publish")
        return rows

    def predicate(self) -> tuple[str, dict]:
        """The WHERE predicate of the partitions the step builds, and its parameters."""
        return slice_predicate(self.asset.partitions, self.params)

    def delete_slice(self) -> None:
        """Delete the partitions' slice of the asset's table (in the caller's transaction)."""
        pred, params = self.predicate()
        self.wh.con.execute(f"DELETE FROM {self.wh.relation(self.asset.relation)} WHERE {pred}",
                            params)

    def replace_slice(self) -> int:
        """Delete and re-insert the partitions' slice (inside the caller's transaction),
        refusing rows outside it (SliceError); the rows inserted."""
        con, table = self.wh.con, self.wh.relation(self.asset.relation)
        self.delete_slice()
        self.s.faults.hit("stage")
        sql = self.asset.materialize.sql
        rows = con.execute(f"INSERT INTO {table} BY NAME {sql}", used_params(sql, self.params)).fetchone()[0]
        counts = slice_counts(con, self.asset, self.keys, table, self.predicate())
        inside = sum(counts.values())
        if inside != rows:
            raise outside_rows(self.asset, self.keys, rows - inside)
        self.counted = counts
        self.s.faults.hit("publish")
        return rows

    def run_table(self, started: datetime):
        """A table with nothing to audit: replace it in place, in one transaction (a reader
        sees the old table or the new one, never neither)."""
        from duck_cli.engine import duckdb

        self.wh.begin()
        try:
            rows = self.replace_table()
            return self.finish(started, rows, [])
        except (duckdb.Error, RuntimeError) as err:
            return self.sql_failed(started, err)

    def run_direct(self, started: datetime):
        """Delete and re-insert the slice in one transaction, verifying nothing fell outside.

        Returns None (and remembers to stage from now on) if the table's columns do not fit.
        """
        from duck_cli.engine import duckdb

        self.wh.begin()
        try:
            return self.finish(started, self.replace_slice(), [])
        except SliceError as err:
            return self.slice_failed(started, err)
        except (duckdb.Error, RuntimeError) as err:
            rollback_or_raise(self.wh, err)
            self.s.direct[self.asset.name] = False  # e.g. the SQL's columns changed: the
            return None  # staged path evolves them

    def finish(self, started: datetime, rows: int, checks: list):
        """Write the ledger and commit: the publish becomes visible and recorded at once.

        Under the session's commit lock, so ledger sequence numbers are committed in order (a
        catalog flush never records a number while a lower one is still uncommitted)."""
        self.drop_moved()
        with self.s.commit_lock:
            ledger = self.ledger(rows)
            commit_with_ledger(self.s, self.wh, ledger)
        self.s.faults.hit("published")  # committed, not recorded: another worker may be first
        self.drop_emptied()
        res = self.result(started, RunStatus.SUCCESS, rows, checks, None, None)
        res.ledger = ledger
        return res

    def drop_moved(self) -> None:
        """Drop the relation in the schema the asset moved from, in the transaction that
        publishes the last partition still recorded there (readers of the old name keep it
        until the new one holds everything)."""
        a = self.asset
        left = self.s.moved.get(a.name)
        if left is None:
            left = self.s.moved[a.name] = moved_keys(self.s.snapshot, a)
        for schema, keys in list(left.items()):
            keys.difference_update(self.keys)
            if not keys:
                del left[schema]
                self.wh.drop_relation(f"{schema}.{a.name}")

    def drop_emptied(self) -> None:
        """Drop the columns the SQL stopped producing once no partition holds a value in them,
        in a transaction of their own: DuckDB 1.x refuses to commit one that altered a table
        it also wrote ('another transaction has altered this table'). A column left because
        another writer holds the table is dropped by a later publish."""
        from duck_cli.engine import duckdb

        if not self.emptied:
            return
        try:
            self.wh.begin()
            evolve.drop_emptied(self.wh.con, self.asset, self.emptied,
                                self.wh.relation(self.asset.relation))
            self.wh.commit()
        except duckdb.Error:
            self.wh.rollback()

    def run_staged(self, started: datetime):
        """Write, audit, publish: stage the SQL, run the checks there, then swap it in."""
        from duck_cli.engine import duckdb

        self.wh.begin()
        try:
            relation = self.stage()
            self.s.faults.hit("stage")
            rows = self.count_and_verify(relation)
            broken = contracts.staged_problems(self.wh.con, self.asset, relation) \
                if self.asset.columns else None
            if broken:
                self.wh.rollback()
                return self.result(started, RunStatus.FAILED, rows, [], broken, "contract")
            checks = self.audit(relation)
            self.s.faults.hit("checks")
            if any(not c.passed for c in checks) and not self.transaction_usable():
                # a check's SQL errored, and DuckDB aborted the transaction with it
                self.wh.rollback()
                msg = "; ".join(f"check {c.name} could not run: {c.message}"
                                for c in checks if not c.passed)
                return self.result(started, RunStatus.FAILED, rows, checks, msg, "check")
            if any(c.blocking for c in checks):
                self.wh.rollback()
                bad = [c for c in checks if c.blocking]
                msg = "; ".join(f"check {c.name} failed: {c.message}" for c in bad)
                res = self.result(started, RunStatus.FAILED, rows, checks, msg, "check")
                res.data_error = True
                return res
            self.publish(relation)
            self.s.faults.hit("publish")
            if self.asset.materialize.strategy in STATEFUL:  # the table's rows, not the batch's
                rows = self.wh.con.execute(
                    f"SELECT count(*) FROM {self.wh.relation(self.asset.relation)}").fetchone()[0]
            return self.finish(started, rows, checks)
        except SliceError as err:
            return self.slice_failed(started, err)
        except (duckdb.Error, RuntimeError) as err:
            return self.sql_failed(started, err)

    def slice_failed(self, started: datetime, err: "SliceError"):
        """Roll back a step whose SQL produced rows outside its partitions."""
        self.wh.rollback()
        res = self.result(started, RunStatus.FAILED, None, [], str(err), "partition")
        res.data_error = True
        return res

    def sql_failed(self, started: datetime, err: Exception):
        """Roll back after a DuckDB error: the step failed (or the run was interrupted)."""
        from duck_cli.engine import duckdb

        rollback_or_raise(self.wh, err)
        res = self.result(started, RunStatus.FAILED, None, [], sql_error(err), "sql")
        res.data_error = not isinstance(err, (duckdb.ParserException, duckdb.BinderException,
                                              duckdb.CatalogException))
        return res

    def result(self, started, status, rows, checks, error, kind):
        r = StepResult(self.step, self.asset.name, tuple(self.keys), status, started,
                       self.s.clock(), error=error, error_kind=kind, row_count=rows,
                       checks=list(checks), input_seq=self.input_seq)
        log = getattr(self, "python_log", None)  # set by a Python step (run.python_asset)
        r.log = log.text() if log is not None else None
        return r

    def stage(self) -> str:
        """Run the asset's SQL into a staging relation; return its quoted name."""
        if self.asset.materialize.python is not None:
            return python_asset.stage(self)
        con, sql, name = self.wh.con, self.asset.materialize.sql, self.asset.relation
        strategy = self.asset.materialize.strategy
        if strategy == "view":
            if self.wh.table_kind(name) == "BASE TABLE":
                self.wh.drop(name)
            con.execute(f"CREATE OR REPLACE VIEW {self.wh.relation(name)} AS {sql}")
            self.wh.mark(name, "VIEW")
            return self.wh.relation(name)
        if strategy == "table":  # staged beside it: a rename cannot move it to another schema
            stage = self.wh.relation(f"{self.asset.schema}.{STAGE}_{self.asset.name}")
            con.execute(f"CREATE OR REPLACE TABLE {stage} AS {sql}")
            return stage
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(STAGE)} AS {sql}", used_params(sql, self.params))
        return quote_ident(STAGE)

    def transaction_usable(self) -> bool:
        """Whether the transaction survived the checks (a failing statement aborts it)."""
        from duck_cli.engine import duckdb

        try:
            self.wh.con.execute("SELECT 1")
            return True
        except duckdb.Error:
            return False

    def count_and_verify(self, relation: str) -> int:
        """Count the staged rows; refuse rows outside the partitions being built (they would
        clobber other slices)."""
        if self.asset.materialize.strategy != "incremental":
            return self.wh.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
        pred, params = self.predicate()
        rows, bad = self.wh.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce({pred}, false)) "
            f"FROM {relation}", params).fetchone()
        if bad:
            raise outside_rows(self.asset, self.keys, bad)
        return rows

    def audit(self, relation: str) -> list:
        """Run the asset's checks on the staged data (see `scope.audit_staged`)."""
        return scope.audit_staged(self, relation)

    def publish(self, relation: str) -> None:
        """Swap the staged table in, or replace exactly the partitions' slice."""
        con, name = self.wh.con, self.asset.relation
        strategy = self.asset.materialize.strategy
        if strategy in STATEFUL:
            self.apply_stateful(relation)
            con.execute(f"DROP TABLE {relation}")
        elif strategy == "table":
            self.wh.drop(name)
            con.execute(f"ALTER TABLE {relation} RENAME TO {quote_ident(self.asset.name)}")
            self.wh.mark(name, "BASE TABLE")
        elif strategy == "incremental":
            self.replace_slice_from(relation)
            con.execute(f"DROP TABLE {relation}")

    def replace_slice_from(self, relation: str) -> None:
        """Replace the partitions' slice with the staged rows; the first build creates the table."""
        con, name = self.wh.con, self.asset.relation
        table = self.wh.relation(name)
        self.counted = None  # counted from the stage, not a direct write's slice
        if self.wh.table_kind(name) != "BASE TABLE":
            self.wh.drop(name)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {relation}")
            self.wh.mark(name, "BASE TABLE")
            return
        dropped = evolve.add_columns(self.s, con, self.asset, relation, table)
        self.delete_slice()
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {relation}")
        self.emptied = dropped  # dropped after the commit (`drop_emptied`)

    def apply_stateful(self, relation: str) -> None:
        """Append, merge or snapshot the staged rows (in the caller's transaction); a first
        build or a full refresh creates the table from them alone."""
        name = self.asset.relation
        exists = self.wh.table_kind(name) == "BASE TABLE" and not self.full_refresh
        if not exists:
            self.wh.drop(name)
        strategies.publish(self.wh.con, self.asset, relation, table=self.wh.relation(name),
                           exists=exists, now=self.s.clock())
        self.wh.mark(name, "BASE TABLE")

    def ledger(self, rows: int) -> list[LedgerRow]:
        counts = self.per_key_counts(rows)
        self.guard_empty(counts)
        now = self.s.clock()
        return [ledger_row(seq, self.asset, k, self.run_id, self.step, now,
                           counts.get(k, 0), "materialization",
                           data_version=kept(self.kept[k]) if k in self.kept else None,
                           upstream=json.dumps({"input_seq": self.input_seq}))
                for seq, k in zip(self.s.next_seqs(len(self.keys)), self.keys)]

    def guard_empty(self, counts: dict[str, int]) -> None:
        """Refuse to replace a partition that held rows with an empty one (a source file that
        arrived empty or lost its rows), unless the asset says ``allow_empty: true``."""
        if self.asset.partitions is None or self.asset.allow_empty:
            return
        current = self.s.snapshot.current
        for key in self.keys:
            mat = current.get((self.asset.name, key))
            if not counts.get(key) and mat is not None and mat.row_count:
                raise SliceError(
                    f"{self.asset.name} {key}: the SQL produced no rows for a partition that "
                    f"holds {mat.row_count}; its rows are kept. If the partition may really be "
                    "empty now, set allow_empty: true on the asset")

    def per_key_counts(self, rows: int) -> dict[str, int]:
        """Rows per partition key of what the step published."""
        counts, self.counted = self.counted, None  # read once, then stale
        if len(self.keys) == 1:
            return {self.keys[0]: rows}
        if self.asset.materialize.strategy == "incremental":
            return counts if counts is not None else slice_counts(
                self.wh.con, self.asset, self.keys, self.wh.relation(self.asset.relation),
                self.predicate())
        return {k: rows for k in self.keys}
