"""The two interfaces every storage backend implements: a state store and a warehouse.

`run/`, `cli/` and the history reads talk to these Protocols only, and get them from
`state/backends.py`; a backend (the local DuckDB files, PostgreSQL state, a DuckLake warehouse)
is one module implementing them, chosen by ``duck.yaml``.

- `StateBackend`: the state's mode as a whole: opening a `StateStore` (read-only, or for a
  writing session), the write lock (per asset where the backend can), the snapshot a reader
  starts from.
- `StateStore`: one open connection to the records: runs, steps, materializations, check
  results, backfills, the id counters and a few meta values.
- `WarehouseBackend`: one connection to the warehouse: transactions, the tables and views in
  it, sources exposed under their asset names, and the publish ledger. ``con`` is a DuckDB
  connection (staging, checks and publishing run SQL on it); in every backend a materialization
  enters the state only after the warehouse committed its ledger row (the ledger is the
  warehouse's own record), so the state never claims data the warehouse does not hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, ContextManager, Iterable, Protocol

from duck_cli.models import Asset
from duck_cli.records import Backfill, Batch, CheckRow, LedgerRow, RunRow, Snapshot, StepRecord


class StateStore(Protocol):
    """An open connection to the state's records (a local catalog file, a PostgreSQL schema)."""

    def close(self, *, final: bool = True) -> None:
        """Close the connection (``final``: a local catalog's `catalog._detach`)."""

    def snapshot(self, scope=None) -> Snapshot:
        """Current materializations, latest attempts and checks per asset partition (at least
        those of ``scope``, asset -> keys, when given)."""

    def meta(self, key: str) -> str | None:
        """A value kept with the state (None when not set)."""

    def set_meta(self, key: str, value: str) -> None:
        """Keep a value with the state."""

    def runs(self, limit: int = 20, asset: str | None = None) -> list[RunRow]:
        """The latest runs, newest first (optionally only runs that touched an asset)."""

    def run(self, run_id: str) -> RunRow | None:
        """One run by id (or by a unique prefix of it)."""

    def steps(self, run_id: str) -> list[StepRecord]:
        """The steps of one run, in order."""

    def run_checks(self, run_id: str) -> list[CheckRow]:
        """Check results recorded by one run."""

    def lake_snapshots(self, run_id: str | None = None, asset: str | None = None
                       ) -> dict[tuple[str, int], int]:
        """The DuckLake snapshot each publish made (lake mode: ``"snapshot"`` in the
        materialization's ``upstream`` JSON), by (run id, step): a run's, or an asset's."""

    def backfills(self, backfill_id: str | None = None) -> list[Backfill]:
        """Recorded backfills, newest first, with their runs' statuses."""

    def max_step_seq(self) -> int:
        """The highest step/check sequence number recorded."""

    def write(self, batch: Batch) -> None:
        """Write a batch in one transaction (runs and backfills are upserts)."""

    def restamp(self, versions: list[tuple[int, str]]) -> None:
        """Rewrite the data version of recorded source observations, by seq."""

    def last_ids(self) -> dict[str, int]:
        """The last run (``r``) and backfill (``b``) number ever issued, pruned ones included."""

    def mark_abandoned(self, run: RunRow, now: datetime) -> None:
        """Mark a run whose process died as abandoned."""

    def unrecorded(self, ledger: list[tuple[int, str | None]], recorded_max: int) -> list[int]:
        """Of the warehouse ledger's (seq, run_id) pairs, the seqs the state lacks: not in its
        materializations, and above ``recorded_max`` or of a run still recorded (rows of runs
        that `duck prune` deleted stay deleted)."""

    def in_progress(self, run_ids: Iterable[str]) -> list[RunRow]:
        """Those of ``run_ids`` recorded as pending or running now (not as of a snapshot)."""

    def recent_runs(self, limit: int) -> tuple[list[RunRow], dict[str, list[StepRecord]]]:
        """The newest ``limit`` runs and the steps of each (in step order), by run id."""

    def latest_steps(self, per_asset: int) -> dict[str, list[tuple[StepRecord, str | None]]]:
        """Each asset's newest ``per_asset`` steps, newest first, each with its run's command."""

    def check_results(self) -> dict[tuple[str, str], dict]:
        """Per (asset, check): the latest result of each partition, summed, and the newest one."""

    def prune(self, keep_runs: int | None, older_than: datetime | None,
              dry_run: bool = False) -> dict[str, int]:
        """Delete old run history in one transaction; rows deleted per table (a dry run counts
        them and deletes nothing)."""

    def verify(self) -> None:
        """Read every record (a StateError when the store is damaged)."""


class WarehouseBackend(Protocol):
    """One connection to the warehouse for a command (a worker's own via `worker`)."""

    con: Any  # a DuckDB connection: staging, checks and publishes run their SQL on it
    kinds: dict[str, str]  # 'BASE TABLE' or 'VIEW' by lower-case name in main

    def worker(self) -> "WarehouseBackend":
        """A connection for a worker thread: its own transactions, the same picture."""

    def prepare(self, statements: list[tuple[str, dict]], deferred: list[str] = ()) -> None:
        """Run what every connection of the command needs first (SET VARIABLE, macros; the
        ``deferred`` ones may fail on a table not built yet), and again on each worker."""

    def close(self) -> None:
        """Close the connection."""

    def begin(self) -> None:
        """Start a transaction."""

    def commit(self) -> None:
        """Commit the transaction."""

    def rollback(self) -> None:
        """Roll the transaction back (a no-op if none is open)."""

    def mark(self, name: str, kind: str | None) -> None:
        """Record that duck created (kind) or dropped (None) a relation in main."""

    def load_kinds(self) -> None:
        """Read which tables and views exist."""

    def exists(self, name: str) -> bool:
        """Whether a table or view exists (``schema.name`` or ``name`` in main)."""

    def table_kind(self, name: str) -> str | None:
        """'BASE TABLE', 'VIEW' or None for a name in the main schema."""

    def drop(self, name: str) -> None:
        """Drop a table or view of that name in main, whichever it is."""

    def expose_source(self, asset: Asset, files: list[str]) -> None:
        """Make a source readable under its asset name."""

    def observe_table(self, asset: Asset, keys: list[str]) -> dict[str, str | None]:
        """Data version per key of a table source."""

    def identity(self) -> str | None:
        """The warehouse's identity (made when duck first opened it)."""

    def max_seq(self) -> int:
        """The highest ledger sequence number."""

    def append_ledger(self, rows: list[LedgerRow]) -> None:
        """Add ledger rows (inside the caller's transaction)."""

    def restamp(self, versions: list[tuple[int, str]]) -> None:
        """Rewrite recorded observations' data versions by seq."""

    def ledger_unrecorded(self, recorded_max: int, store: StateStore) -> list[LedgerRow]:
        """Ledger rows the state lacks (`ledger_unrecorded` below compares for any pair)."""


class StateBackend(Protocol):
    """The state's mode: how to open its store, lock it and read a snapshot for a command."""

    mode: str  # "local" or "postgres"

    def describe(self) -> str:
        """Where the state lives, for people (never a secret)."""

    def open(self, *, read_only: bool, wait: float) -> ContextManager[StateStore | None]:
        """A store for one short transaction; None when reading a state not made yet."""

    def writer(self, wh: WarehouseBackend, *, wait: float) -> StateStore:
        """A store for a writing session (a backend may share the warehouse's connection);
        the caller closes it."""

    def lock(self, command: str, assets: Iterable[str] | None, *, wait: float, now: datetime,
             on_wait: Callable[[dict | None], None] | None = None) -> ContextManager[None]:
        """Hold the write lock for ``assets`` (None: the whole project) up to ``wait`` seconds,
        then a LockedError naming the holder."""

    def lock_assets(self, command: str, assets: Iterable[str], *, exclusive: bool, wait: float,
                    now: datetime, on_wait: Callable[[dict | None], None] | None = None
                    ) -> ContextManager[bool]:
        """Hold the locks of the assets a planned session writes (where the backend locks per
        asset; else nothing more); yields whether it had to wait (the plan is then stale)."""

    def alive(self, runs: Iterable[RunRow]) -> set[str]:
        """The ids of ``runs`` (recorded as running) whose process still writes: not to be
        marked abandoned (none while a lock file admits one writer)."""

    def serial(self, name: str) -> ContextManager[None]:
        """One process at a time in the block ``name`` (a no-op under a lock file)."""

    def issuer(self) -> Any:
        """Where a session gets run ids and sequence numbers when writers run side by side
        (`postgres_ids.Issuer`); None: the session counts them itself."""

    def is_locked(self) -> bool:
        """Whether some writer holds the lock right now."""

    def read_snapshot(self, wait: float) -> Snapshot:
        """One snapshot of the state for a reading command (empty before the first write)."""


def ledger_unrecorded(store: StateStore, recorded_max: int, index: list[tuple[int, str | None]],
                      fetch: Callable[[list[int]], list[LedgerRow]]) -> list[LedgerRow]:
    """The ledger rows ``store`` lacks, for any pair of backends: the ledger's (seq, run_id)
    ``index`` compared in the store, then the missing rows ``fetch``ed from the warehouse."""
    missing = store.unrecorded(index, recorded_max)
    return fetch(sorted(missing)) if missing else []
