"""A writing command's session.

A `Session` is one writing command: it holds the project's write lock and the warehouse
connection, repairs what a dead run left behind, records source observations, and flushes
catalog writes in batches (the warehouse ledger makes that crash safe).
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterator

from duck_cli.graph import partitions as parts
from duck_cli.graph.scope import Scope, covers, keys_of, whole
from duck_cli.errors import ExecutionError
from duck_cli.run.prelude import prepare_connection
from duck_cli.state import observe, sources, versions as versions_mod
from duck_cli.models import Project, is_remote
from duck_cli.run import environment, observers, recovery, session_files
from duck_cli.run.faults import Faults
from duck_cli.records import Batch, LedgerRow, Mat, RunStatus, Snapshot
from duck_cli.state import backends, table_cache
from duck_cli.state.table_cache import relation_key
from duck_cli.state.snapshot import unrecorded_marker
from duck_cli.state.store import StateBackend, StateStore, WarehouseBackend
from duck_cli.state.warehouse import ledger_row

FLUSH_SECONDS = 3.0  # the warehouse ledger keeps crash safety between flushes


@dataclass
class StepResult:
    """What happened to (some of) a plan step's partitions."""

    step: int
    asset: str
    keys: tuple[str, ...]
    status: str  # success | failed | skipped
    started_at: datetime
    ended_at: datetime
    error: str | None = None
    error_kind: str | None = None  # sql | check | blocked | partition
    row_count: int | None = None
    checks: list = field(default_factory=list)  # checks.CheckResult
    blocked_by: str | None = None
    seconds: float = 0.0
    input_seq: int = 0  # the highest upstream materialization the step read
    ledger: list = field(default_factory=list)  # the materializations it published
    data_error: bool = False  # failed on the data (checks, casts), not on the SQL itself
    log: str | None = None  # what a Python step logged (context.log)


@dataclass
class RunResult:
    """A finished run: its id, status and every step result."""

    run_id: str | None  # None: there was nothing to run
    status: str  # success | failed | canceled
    results: list[StepResult]
    backfill_id: str | None = None

    def failed(self) -> list[StepResult]:
        """Steps that failed (not the skipped ones)."""
        return [r for r in self.results if r.status == RunStatus.FAILED]


class Session:
    """A writing command's hold on the project: lock, warehouse, catalog writes."""

    def __init__(self, project: Project, clock: Callable[[], datetime], wh: WarehouseBackend,
                 faults: Faults | None = None, state: StateBackend | None = None):
        self.project = project
        self.state = state or backends.state_backend(project.settings)
        self.clock = clock
        self.faults = faults or Faults()  # crash tests' kill points (DUCK_FAULT)
        self.wh = wh
        self.pending = Batch()
        self.last_flush = time.monotonic()
        self.seq = 0
        self.step_seq = 0
        self.interrupted = False
        self.terminated = False  # the interruption was a SIGTERM (exit 143, not 130)
        self.backfill_id: str | None = None
        self.recovered: dict = {}
        self.snapshot = Snapshot.empty()  # the catalog as this session knows it
        self.base: Snapshot | None = None  # in an environment: production's, read at start
        self._unrecorded = unrecorded_marker(project.settings).exists()
        self.ids: dict[str, int] = {}  # runs and backfills recorded so far, by id prefix
        self.direct: dict[str, bool] = {}  # assets whose slices may skip staging (no checks)
        self.moved: dict[str, dict[str, set[str]]] = {}  # asset -> old schema -> keys left there
        self.columns: dict[str, list[str]] = {}  # incremental tables' columns, once known
        self.held = None  # the catalog connection kept from start-up until the run is recorded
        self.commit_lock = threading.Lock()  # publishes commit one at a time, in ledger order
        self.python_functions: dict = {}  # user functions imported by this session (run.python_call)
        self.python_lock = threading.Lock()
        self.python_workers = None  # run.python_process.Workers, once a step asks for one
        self.in_flight = 0  # ledger rows (being) committed by steps not recorded yet
        self._flight_lock = threading.Lock()
        self.live: dict[str, dict[str, str | None]] = {}  # source versions observed at start
        self.source_errors: dict[str, ExecutionError] = {}  # whole-source views that failed
        self.headers = versions_mod.ShardedCache(None)  # source files' columns, by version
        self.issuer = None  # PostgreSQL state: ids and seqs issued in the state (postgres_ids)
        self.locks = ExitStack()  # the asset locks taken after planning (PostgreSQL state)
        self.command = "materialize"  # the writing command (set by `session`)
        self.per_asset = False  # whether the plan's assets are locked one by one
        self.tables: table_cache.WriterTables | None = None  # table sources' cached versions
        self.scope: Scope | None = None  # the partitions the command is about (None: all)
        self.facts = None  # state.held.Facts: the warehouse's, read by `recovery.recover`
        self.run_id: str | None = None  # this session's run once started: alive, not to repair

    @property
    def settings(self):
        return self.project.settings

    def flush(self, force: bool = False) -> None:
        """Write buffered catalog records (at most once every FLUSH_SECONDS unless forced)."""
        if not self.pending or (not force and time.monotonic() - self.last_flush < FLUSH_SECONDS):
            return
        self.faults.hit("catalog")
        with self.catalog() as catalog:
            catalog.write(self.pending)
        self.pending = Batch()
        self.last_flush = time.monotonic()
        with self._flight_lock:
            if not self.in_flight:  # no worker holds published rows the batch did not carry
                self.recorded()

    def add_in_flight(self, rows: int) -> None:
        """Count ledger rows committed (or being committed) but not yet in the catalog batch."""
        with self._flight_lock:
            self.in_flight += rows

    @contextmanager
    def catalog(self) -> Iterator[StateStore]:
        """The state store for one write: the held connection, or a brief one."""
        if self.held is not None:
            yield self.held
            return
        catalog = self.state.writer(self.wh, wait=self.settings.wait_seconds)
        try:
            yield catalog
        finally:
            catalog.close()

    def release_catalog(self, *, final: bool = True) -> None:
        """Let readers in: close the connection held since start-up (runs flush briefly;
        ``final=False``: the run's end is recorded later, `catalog._detach`)."""
        if self.held is not None:
            held, self.held = self.held, None
            held.close(final=final)

    def unrecorded(self) -> None:
        """Say (on disk) that the ledger is about to get rows the catalog has not recorded yet:
        if this process dies before its next flush, the next reader knows to repair."""
        with self._flight_lock:
            if not self._unrecorded:
                marker = unrecorded_marker(self.settings)
                # an environment's folder may not exist yet (PostgreSQL state)
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
                self._unrecorded = True

    def recorded(self) -> None:
        """Everything published is in the catalog again."""
        if self._unrecorded:
            unrecorded_marker(self.settings).unlink(missing_ok=True)
            self._unrecorded = False

    def next_seq(self) -> int:
        """The next materialization sequence number."""
        return self.next_seqs(1)[0]

    def next_seqs(self, n: int) -> list[int]:
        """The next ``n`` materialization sequence numbers (one round trip to a PostgreSQL
        state for a step's partitions)."""
        if self.issuer is not None:  # other writers issue them too; above ours (an
            self.issuer.floor("mat_seq", self.seq)  # environment numbers after production's)
            seqs = self.issuer.next_many("mat_seq", n)
        else:
            seqs = list(range(self.seq + 1, self.seq + n + 1))
        self.seq = seqs[-1] if seqs else self.seq
        return seqs

    def next_step_seq(self) -> int:
        """The next step/check sequence number."""
        if self.issuer is not None:
            self.issuer.floor("step_seq", self.step_seq)
            self.step_seq = self.issuer.next("step_seq")
            return self.step_seq
        self.step_seq += 1
        return self.step_seq

    def lock_assets(self, assets, *, exclusive: bool, on_wait=None) -> bool:
        """Hold the locks of the assets the plan writes until the session ends (the project
        lock, exclusive, holds them all already without ``per_asset``); whether it waited."""
        if not self.per_asset:
            return False
        return self.locks.enter_context(self.state.lock_assets(
            self.command, assets, exclusive=exclusive, wait=self.settings.wait_seconds,
            now=self.clock(), on_wait=on_wait))

    def refresh(self) -> None:
        """Read the state again (another writer changed it while this one waited)."""
        self.flush(force=True)  # this session's own observations first
        with self.catalog() as c:
            self.snapshot = replace(c.snapshot(self.scope),
                                    warehouse_id=self.snapshot.warehouse_id)


@contextmanager
def session(project: Project, command: str, clock: Callable[[], datetime], *, wait: float,
            on_wait=None, hold_catalog: bool = False,
            faults: Faults | None = None, prepare=None,
            per_asset: bool = False, scope: Scope | None = None) -> Iterator[Session]:
    """Lock the project, open the warehouse, repair and observe; flush and close at the end.

    With ``hold_catalog`` the catalog connection opened for the repair stays open (readers
    wait) until `run_plan` has recorded the run, so planning costs no second open. With
    ``per_asset`` a PostgreSQL state's project lock is shared (the command then locks the
    assets it writes: `Session.lock_assets`); else it is the project's alone. With a
    ``scope`` (`graph.scope`) only those partitions are read from the state and observed.
    """
    project = replace(project, settings=replace(project.settings, wait_seconds=wait))
    state = backends.state_backend(project.settings)
    # a local warehouse file admits one writer anyway: then the project lock stays exclusive
    # (a second writer waits on it and is told who holds it)
    per_asset = per_asset and project.settings.lake is not None
    with state.lock(command, [] if per_asset else None, wait=wait, now=clock(),
                    on_wait=on_wait), session_files.storage_errors(project):
        if prepare is not None:  # under the lock, before the warehouse is opened (doctor)
            prepare()
        wh = backends.open_warehouse(project.settings, wait=wait)
        # stamped once open: this connection locks the file, so no one else changes it after
        tables = table_cache.WriterTables(project.settings)
        s = Session(project, clock, wh, faults, state)
        s.command, s.per_asset, s.tables, s.scope = command, per_asset, tables, scope
        try:
            prepare_connection(wh, project)
            s.held = state.writer(wh, wait=wait)
            s.issuer = state.issuer()
            s.recovered = recovery.recover(s)
            s.recovered["lost"] = recovery.record_lost(s)
            s.base = environment.defer_to_production(s)
            s.headers = session_files.load_headers(s)
            observe_sources(s)
            if not hold_catalog:
                s.release_catalog()
            yield s
        finally:
            try:
                s.flush(force=True)
                s.headers.save()
            finally:
                s.release_catalog()
                s.locks.close()
                if s.issuer is not None:
                    s.issuer.close()
                tables.settle(wh.con, bool(s.python_functions) or s.python_workers is not None,
                              {relation_key(a.name) for a in project.assets.values()
                               if not a.is_source})
                wh.close()
                tables.close()


def observe_sources(s: Session) -> None:
    """Record new or changed source data, and expose each source under its asset name."""
    snap, now = s.snapshot, s.clock()
    live = observe.observe(s.project, now, snap.current, connect=lambda: s.wh.con,
                           scope=observe.with_voters(s.project, now, s.scope))
    for asset in (a for a in s.project.assets.values() if a.is_source and a.source.table):
        keys = keys_of(s.scope, asset, now)
        live[asset.name] = s.tables.versions(asset, keys, lambda: s.wh.observe_table(asset, keys))
        s.wh.expose_source(asset, [])  # a view under its name, once the table is loaded
    for asset in (a for a in s.project.assets.values() if a.is_source and a.source.observe):
        live[asset.name] = observers.observe(s, asset)  # user code: only writers call it
    s.live = live
    _restamp_legacy(s, live)
    snap = s.snapshot
    known = snap.current if s.base is None else {**s.base.current, **snap.current}
    rows = [ledger_row(s.next_seq(), s.project.assets[name], key, None, None, now, None,
                       "observation", data_version=version)
            for name, versions in live.items() for key, version in versions.items()
            if version is not None and _changed(known.get((name, key)), version)
            and covers(s.scope, name, [key])]  # another day's change is not this command's
    for asset in observe.file_sources(s.project):
        # not observed whole: every key, and `view_source` lists which files are there (a
        # remote source is never scoped: it is listed whole)
        arrived = [k for k, v in live[asset.name].items() if v] \
            if whole(s.scope, asset.name, asset.partitions, now) \
            else parts.partition_keys(asset.partitions, now)
        s.source_errors.pop(asset.name, None)
        try:
            s.wh.expose_source(asset, sources.view_source(asset, s.project.root, arrived))
        except ExecutionError as err:  # a bad file fails its readers, not the command
            s.source_errors[asset.name] = err
    if rows:
        _record_observations(s, rows)


def _changed(mat, version: str) -> bool:
    return mat is None or mat.data_version != version


def _restamp_legacy(s: Session, live: dict) -> None:
    """Rewrite size:mtime versions still standing for unchanged files as content versions, in
    place (same seq): a one-time migration that plans no rebuild."""
    todo = []
    for name, versions in live.items():
        asset = s.project.assets[name]
        if not asset.source.path or is_remote(asset.source.path):
            continue  # a table's row count:hash is not a size:mtime
        stale = [k for k, v in versions.items() if versions_mod.is_legacy(v)]
        if not stale:
            continue
        cache = versions_mod.VersionCache(observe.cache_file(s.project))
        fresh = sources.observe_files(asset, s.project.root, stale, cache)
        cache.save()
        for key in stale:
            mat = s.snapshot.current.get((name, key))
            if mat is not None and fresh.get(key):
                todo.append((mat.seq, fresh[key], name, key))
                versions[key] = fresh[key]
    if todo:
        s.wh.restamp([(seq, v) for seq, v, _n, _k in todo])
        with s.catalog() as c:
            c.restamp([(seq, v) for seq, v, _n, _k in todo])
        s.snapshot = replace(s.snapshot, current={**s.snapshot.current, **{
            (n, k): s.snapshot.current[(n, k)]._replace(data_version=v) for _s, v, n, k in todo}})


def _record_observations(s: Session, rows: list[LedgerRow]) -> None:
    s.unrecorded()
    # Writers side by side (PostgreSQL state): another runner's `recover` copies ledger rows of
    # no run (observations) that the state lacks; it must not find these between the ledger's
    # commit and the state's, or both would record them. Alone, they are recorded with the
    # run's start (one catalog transaction, not two), or by the session's last flush when
    # nothing runs; the ledger holds them meanwhile (crash safe).
    shared = s.state.mode == "postgres"
    with s.state.serial("recover") if shared else nullcontext():
        s.wh.begin()
        s.wh.append_ledger(rows)
        s.wh.commit()
        s.faults.hit("observed")
        s.pending.mats.extend(rows)
        if shared:
            s.flush(force=True)
    seen = {(r.asset, r.partition_key): Mat(
        r.seq, r.asset, r.partition_key, None, None, r.created_at, r.code_version,
        r.data_version, None, "observation") for r in rows}
    s.snapshot = replace(s.snapshot, current={**s.snapshot.current, **seen},
                         max_seq=max(r.seq for r in rows))


def new_run_id(s: Session, prefix: str = "r") -> str:
    """The next run (r00012) or backfill (b00003) id: one past the last ever issued (counted
    under the lock file, or issued by a PostgreSQL state to writers side by side)."""
    if s.issuer is not None:
        s.ids[prefix] = s.issuer.next(prefix)
        return f"{prefix}{s.ids[prefix]:05d}"
    s.ids[prefix] = s.ids.get(prefix, 0) + 1
    return f"{prefix}{s.ids[prefix]:05d}"
