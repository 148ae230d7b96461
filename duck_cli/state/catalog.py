"""The state catalog: a DuckDB file holding runs, steps, materializations, check results, backfills.

Connections are held briefly (open, read or write in one transaction, close) so that readers
(`status`, `plan`, `why`, `runs`) work while a writer runs; a locked file is retried with backoff.
Writes come in batches (`Batch`), each one transaction. Materializations enter the catalog only
after the warehouse committed them (see warehouse.py's ledger), so the catalog never claims data
the warehouse does not hold.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from duck_cli.errors import StateError
from duck_cli.records import (Attempt, Backfill, BackfillRecord, BackfillStatus, Batch, CheckRow,
                              RunRow, RunStatus, Snapshot, StepRecord)
from duck_cli.state.bulk import (bulk_insert as _bulk_insert, keep_current as _keep_current,
                                 key_params, key_relation)
from duck_cli.state.catalog_schema import (DDL as _DDL, LATEST_ATTEMPTS, LATEST_CHECKS,
                                           LATEST_MATS, MIGRATIONS, SCHEMA_VERSION, last_ids)
from duck_cli.state.catalog_rows import aware, decode_backfill, mats
from duck_cli.state.dbfile import connect, retry_locked
from duck_cli.state.history import History


@contextmanager
def open_catalog(path: Path, *, read_only: bool, wait: float = 30.0) -> Iterator["Catalog | None"]:
    """A catalog connection for one short transaction; None when reading a catalog not made yet.

    A reader that meets a catalog from an older duck migrates it first (briefly as a writer).
    """
    if read_only and not path.exists():
        yield None
        return
    from duck_cli.engine import duckdb

    catalog = open_connection(path, read_only=read_only, wait=wait)
    try:
        yield catalog
    except duckdb.Error as err:  # a corrupt block met while reading or writing
        raise StateError(f"cannot read {path}: {str(err).splitlines()[0]}",
                         hint=_MOVE_ASIDE) from err
    finally:
        catalog.close()


ATTACHED = "duck_catalog"  # the catalog's name when attached to the warehouse connection


def attach(con, path: Path, *, wait: float = 30.0, lazy: bool = False) -> "Catalog":
    """The catalog attached (read-write) to an open warehouse connection: a tenth of the cost
    of a connection of its own (no second database instance), the same file lock. ``lazy``:
    the connection never checkpoints on its own (a lake's); a file warehouse's connection is
    told not to for the detach (`_detach`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    literal = "'" + str(path).replace("'", "''") + "'"
    new = not path.exists()
    retry_locked(path, wait, lambda: con.execute(f"ATTACH {literal} AS {ATTACHED}"))
    cur = con.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(f"USE {ATTACHED}")
        catalog = Catalog(cur, path, detach=lambda final: _detach(con, path, final, lazy))
        catalog.attached_to = con
        catalog.check_version(False, new=new)
        return catalog
    except BaseException:
        cur.close()
        con.execute(f"DETACH DATABASE IF EXISTS {ATTACHED}")
        raise


SMALL_WAL = 16_384  # bytes of write-ahead log a command's last detach leaves for the next open
STARTED_WAL = 262_144  # ... and its first (the start of a run): its own end replays it at once
BARE = 262_144  # a catalog file below this was never checkpointed (its tables are in the log)


def _detach(con, path: Path, final: bool, lazy: bool) -> None:
    """Detach the catalog, checkpointing it only when that is cheaper than leaving the log.
    A detach need not checkpoint (DuckDB does by default: 5-10 ms): what was committed is in
    the write-ahead log, which the next open replays. Replay costs about 1 ms per 25 KB for
    every later open (readers replay it each time), so a command's last detach (``final``)
    checkpoints a log longer than SMALL_WAL, or one holding a new catalog's tables; the
    release of the catalog held while a command starts leaves its log (a run's start, up to
    STARTED_WAL) to the command's own end, which replays it in a millisecond or two.
    ``lazy``: the connection (a lake's) never checkpoints on its own; a file warehouse's is
    told not to for the detach."""
    from duck_cli.engine import duckdb

    wal = path.with_name(path.name + ".wal")
    failed = None
    try:
        size = wal.stat().st_size
        if size > (SMALL_WAL if final else STARTED_WAL) or (final and path.stat().st_size < BARE):
            con.execute(f"CHECKPOINT {ATTACHED}")
    except (OSError, duckdb.TransactionException):  # no log, or busy: what was committed is
        pass  # in the log
    except duckdb.Error as err:  # a full disk: said once detached (the log keeps the records)
        failed = err
    if lazy:
        con.execute(f"DETACH {ATTACHED}")
    else:
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        try:
            con.execute(f"DETACH {ATTACHED}")
        finally:  # the warehouse itself still checkpoints when closed
            con.execute("PRAGMA enable_checkpoint_on_shutdown")
    if failed is not None:
        raise failed


def open_connection(path: Path, *, read_only: bool, wait: float = 30.0) -> "Catalog":
    """An open, version-checked (and if need be migrated) catalog; the caller closes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path, read_only=read_only, wait=wait)
    try:
        catalog = Catalog(con, path)
        try:
            catalog.check_version(read_only)
        except _NeedsMigration:
            con.close()
            with open_catalog(path, read_only=False, wait=wait):
                pass
            con = connect(path, read_only=True, wait=wait)
            catalog = Catalog(con, path)
        return catalog
    except BaseException:
        con.close()
        raise


class _NeedsMigration(Exception):
    """A read-only connection met an older catalog schema."""


class Catalog(History):
    """The local `StateStore`: queries and writes over an open catalog connection."""

    def __init__(self, con, path: Path, detach=None):
        self.con = con
        self.path = path
        self._detach = detach  # set when attached to another connection
        self.attached_to = None  # the warehouse connection it is attached to, if any
        self.fresh = False  # created by this connection, nothing written yet: empty
        self.no_current = False  # ... and its current_* tables still empty (`write`)

    def close(self, *, final: bool = True) -> None:
        """Close the connection (and detach the file, if attached: ``final=False`` when the
        command attaches it again to record its end, `_detach`)."""
        self.con.close()
        if self._detach is not None:
            self._detach(final)

    def check_version(self, read_only: bool, *, new: bool = False) -> None:
        """Create the schema (at once in a file that did not exist: ``new``), migrate an older
        one (with a backup), refuse a newer one."""
        version = None if new else self._version()
        if version is None:
            if read_only:
                raise StateError(f"{self.path} is not a duck catalog", hint=_MOVE_ASIDE)
            # one transaction: one commit to the log instead of one per table
            self.con.execute(f"BEGIN TRANSACTION; {_DDL}; INSERT OR REPLACE INTO duck_meta "
                             f"VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT")
            self.fresh = self.no_current = True
        elif version > SCHEMA_VERSION:
            raise StateError(f"{self.path} was written by a newer duck (catalog schema "
                             f"{version}, this duck knows {SCHEMA_VERSION})",
                             hint="Upgrade duck (pip install -U duck-cli); nothing was changed.")
        elif version < SCHEMA_VERSION:
            if read_only:
                raise _NeedsMigration()
            self._migrate(version)

    def _version(self) -> int | None:
        from duck_cli.engine import duckdb

        try:
            row = self.con.execute(
                "SELECT value FROM duck_meta WHERE key = 'schema_version'").fetchone()
            return int(row[0]) if row else -1
        except duckdb.CatalogException:  # no duck_meta: a new file, or someone else's
            tables = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE "
                                      "database_name = current_database()").fetchone()[0]
            return None if not tables else -1
        except Exception as err:  # a corrupt or foreign file
            raise StateError(f"cannot read {self.path}: {str(err).splitlines()[0]}",
                             hint=_MOVE_ASIDE) from err

    def _migrate(self, version: int) -> None:
        if version < 1:
            raise StateError(f"{self.path} is not a duck catalog (no schema version)",
                             hint=_MOVE_ASIDE)
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        self.con.execute("CHECKPOINT")
        shutil.copyfile(self.path, backup)
        for v in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[v]:
                self.con.execute(statement)
        self.con.execute("UPDATE duck_meta SET value = ? WHERE key = 'schema_version'",
                         [str(SCHEMA_VERSION)])

    # -- reading -------------------------------------------------------------------------

    def snapshot(self, scope: Mapping[str, Iterable[str]] | None = None) -> Snapshot:
        """Current materializations, latest attempts and checks per asset partition; with a
        ``scope`` (asset -> keys) only those keys' current materializations are read."""
        if self.fresh:  # a catalog this command just created records nothing: no queries
            return Snapshot.empty()
        self.con.execute("BEGIN TRANSACTION")
        try:
            current, lost = mats(self._current_rows(scope))
            attempts = {(a.asset, a.partition): a for a in map(Attempt._make, aware(
                self.con.execute(f"SELECT * FROM ({LATEST_ATTEMPTS}) WHERE status = 'failed'")
                .fetchall(), 9))}
            last = {a.asset: a for a in map(Attempt._make, aware(self.con.execute(
                f"SELECT * FROM ({LATEST_ATTEMPTS}) QUALIFY row_number() OVER "
                "(PARTITION BY asset ORDER BY seq DESC) = 1").fetchall(), 9))}
            checks = self._latest_checks()
            counts = {r[0]: tuple(r[1:]) for r in self.con.execute(
                f"SELECT asset, count(*) FILTER (WHERE passed), count(*) FILTER (WHERE NOT passed "
                f"AND severity = 'error'), count(*) FILTER (WHERE NOT passed AND severity <> "
                f"'error') FROM ({LATEST_CHECKS}) GROUP BY asset").fetchall()}
            active = tuple(map(RunRow._make, self.con.execute(
                f"SELECT {_RUN_COLS} FROM runs WHERE status IN ('pending', 'running')").fetchall()))
            max_seq = self.con.execute(  # the newest of all is the current one of its key
                "SELECT coalesce(max(seq), 0) FROM current_materializations").fetchone()[0]
            warehouse_id = self.meta("warehouse_id")
        finally:
            self.con.execute("COMMIT")
        return Snapshot(current, attempts, checks, active, max_seq, last, counts, lost,
                        warehouse_id)

    def _current_rows(self, scope: Mapping[str, Iterable[str]] | None) -> list:
        if scope is None:
            return self.con.execute(LATEST_MATS).fetchall()
        pairs = [(a, k) for a, keys in scope.items() for k in keys]
        whole = "FROM current_materializations GROUP BY ALL"
        assert LATEST_MATS.endswith(whole)
        return self.con.execute(
            LATEST_MATS[:-len(whole)] + "FROM current_materializations SEMI JOIN "
            f"({key_relation('asset, partition_key')}) USING (asset, partition_key) GROUP BY ALL",
            key_params('asset, partition_key', pairs)).fetchall()

    def meta(self, key: str) -> str | None:
        """A value kept in duck_meta (None when not set)."""
        row = self.con.execute("SELECT value FROM duck_meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Keep a value in duck_meta."""
        record = {"key": key, "value": value}
        if self.fresh:  # a catalog just created holds no value yet
            _insert(self.con, "duck_meta", record)
        else:
            _put(self.con, "duck_meta", record, "key")
        self.fresh = False

    def _latest_checks(self) -> dict[tuple[str, str], tuple[CheckRow, ...]]:
        rows = self.con.execute(
            f"SELECT * FROM ({LATEST_CHECKS}) WHERE NOT passed "
            "ORDER BY asset, partition_key, check_name").fetchall()
        out: dict[tuple[str, str], list[CheckRow]] = {}
        for r in rows:
            row = CheckRow(*r[:11], json.loads(r[11] or "[]"), r[12])
            out.setdefault((row.asset, row.partition), []).append(row)
        return {k: tuple(v) for k, v in out.items()}

    def runs(self, limit: int = 20, asset: str | None = None) -> list[RunRow]:
        """The latest runs, newest first (optionally only runs that touched an asset)."""
        where = "WHERE run_id IN (SELECT run_id FROM steps WHERE asset = ?)" if asset else ""
        params = [asset] if asset else []
        return list(map(RunRow._make, self.con.execute(
            f"SELECT {_RUN_COLS} FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT ?",
            [*params, limit]).fetchall()))

    def in_progress(self, run_ids) -> list[RunRow]:
        """Those of ``run_ids`` recorded as pending or running now."""
        return list(map(RunRow._make, self.con.execute(
            f"SELECT {_RUN_COLS} FROM runs WHERE status IN ('pending', 'running') AND "
            "list_contains(?, run_id)", [sorted(run_ids)]).fetchall()))

    def run(self, run_id: str) -> RunRow | None:
        """One run by id (or by a unique prefix of it)."""
        rows = self.con.execute(f"SELECT {_RUN_COLS} FROM runs WHERE starts_with(run_id, ?) "
                                "ORDER BY run_id", [run_id]).fetchall()
        return RunRow._make(rows[0]) if len(rows) == 1 else None

    def steps(self, run_id: str) -> list[StepRecord]:
        """The steps of one run, in order."""
        rows = self.con.execute(f"SELECT {', '.join(StepRecord._fields)} FROM steps "
                                "WHERE run_id = ? ORDER BY step, seq", [run_id]).fetchall()
        return [StepRecord._make(r) for r in rows]

    def lake_snapshots(self, run_id: str | None = None, asset: str | None = None
                       ) -> dict[tuple[str, int], int]:
        """The DuckLake snapshot each publish made (lake mode), by (run id, step): a run's, or
        those of an asset's current materializations."""
        rows = self.con.execute(
            "SELECT run_id, step, max(TRY_CAST(json_extract_string(upstream, '$.snapshot') AS "
            "BIGINT)) AS snap FROM materializations WHERE kind = 'materialization' AND "
            "(? IS NULL OR run_id = ?) AND (? IS NULL OR asset = ?) GROUP BY ALL "
            "HAVING snap IS NOT NULL", [run_id, run_id, asset, asset]).fetchall()
        return {(r, s): snap for r, s, snap in rows}

    def run_checks(self, run_id: str) -> list[CheckRow]:
        """Check results recorded by one run."""
        rows = self.con.execute(
            "SELECT seq, run_id, asset, partition_key, check_name, kind, severity, passed, "
            "observed, failing, message, sample, stage FROM check_results WHERE run_id = ? "
            "ORDER BY seq", [run_id]).fetchall()
        return [CheckRow(*r[:11], json.loads(r[11] or "[]"), r[12]) for r in rows]

    def backfills(self, backfill_id: str | None = None) -> list[Backfill]:
        """Recorded backfills, newest first, with their runs' statuses."""
        cur = self.con.execute(
            f"SELECT {', '.join('b.' + c for c in BackfillRecord._fields)}, "
            "list(r.run_id ORDER BY r.started_at) AS run_ids, "
            "list(r.status ORDER BY r.started_at) AS run_statuses FROM backfills b "
            "LEFT JOIN runs r ON r.backfill_id = b.backfill_id "
            + ("WHERE starts_with(b.backfill_id, ?) " if backfill_id else "")
            + "GROUP BY ALL ORDER BY b.created_at DESC, b.backfill_id DESC",
            [backfill_id] if backfill_id else [])
        return [decode_backfill(r) for r in cur.fetchall()]

    def max_step_seq(self) -> int:
        """The highest step/check sequence number recorded."""
        if self.fresh:
            return 0
        return self.con.execute("SELECT greatest((SELECT coalesce(max(seq), 0) FROM steps), "
                                "(SELECT coalesce(max(seq), 0) FROM check_results))").fetchone()[0]

    # -- writing -------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Write a batch in one transaction (a run's first record, running, and a backfill's
        request are new; a run's later records replace its first). The id counters are not
        touched: `last_ids` takes the highest id recorded, and `duck prune` raises the counters
        before it deletes a run."""
        empty, self.fresh = self.no_current, False  # a new catalog's current_* tables: empty
        self.no_current = False
        self.con.execute("BEGIN TRANSACTION")
        try:
            for run in batch.runs:
                if run.status == RunStatus.RUNNING:  # its first record: a new id
                    _insert(self.con, "runs", run._asdict())
                else:
                    _put(self.con, "runs", run._asdict(), "run_id")
            for bf in batch.backfills:
                if isinstance(bf, BackfillStatus):
                    self.con.execute("UPDATE backfills SET status = ? WHERE backfill_id = ?",
                                     [bf.status, bf.backfill_id])
                else:  # a new backfill's request (`run.backfill.record`)
                    _insert(self.con, "backfills", bf._asdict())
            for table, rows in (("steps", batch.steps), ("materializations", batch.mats),
                                ("check_results", batch.checks)):
                _bulk_insert(self.con, table, rows)
                _keep_current(self.con, table, rows, empty)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def restamp(self, versions: list[tuple[int, str]]) -> None:
        """Rewrite the data version of recorded source observations, by seq (the migration
        from size:mtime to content versions: the same data, so nothing downstream is stale)."""
        for table in ("materializations", "current_materializations"):
            self.con.executemany(f"UPDATE {table} SET data_version = ? WHERE seq = ?",
                                 [[v, seq] for seq, v in versions])

    def last_ids(self) -> dict[str, int]:
        """The last run (``r``) and backfill (``b``) number ever issued, pruned ones included."""
        if self.fresh:
            return {"r": 0, "b": 0}
        return last_ids(self.con)

    def mark_abandoned(self, run: RunRow, now: datetime) -> None:
        """Mark a run whose process died as abandoned."""
        self.con.execute(
            "UPDATE runs SET status = 'abandoned', ended_at = ?, error = ? WHERE run_id = ?",
            [now, f"process {run.pid} on {run.host} died before the run ended", run.run_id])
        self.con.execute("UPDATE steps SET status = 'abandoned' WHERE run_id = ? AND status = "
                         "'running'", [run.run_id])
        if run.backfill_id:
            self.con.execute("UPDATE backfills SET status = 'partial' WHERE backfill_id = ?",
                             [run.backfill_id])


_MOVE_ASIDE = ("Refusing to touch it. Move it aside (e.g. `mv .duck/catalog.duckdb "
               ".duck/catalog.broken`) and run `duck materialize` to start a new catalog; the "
               "warehouse keeps the data.")

_RUN_COLS = ("run_id, command, status, started_at, ended_at, pid, host, args, backfill_id, error")

def _put(con, table: str, record: dict, key: str) -> None:
    """Replace the record with the same key, or insert it: an UPDATE, and an INSERT when it
    found none (a third of the cost of DuckDB's INSERT ... ON CONFLICT DO UPDATE)."""
    rest = [c for c in record if c != key]
    if not con.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in rest)} WHERE {key} = ?",
                       [record[c] for c in rest] + [record[key]]).fetchone()[0]:
        _insert(con, table, record)


def _insert(con, table: str, record: dict) -> None:
    """Insert a record whose key is new."""
    con.execute(f"INSERT INTO {table} ({', '.join(record)}) VALUES "
                f"({', '.join('?' * len(record))})", list(record.values()))
