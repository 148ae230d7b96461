"""Run a plan: for each step stage the SQL, audit it with the checks, publish, and record.

A `Session` is one writing command: it holds the project's write lock and the warehouse
connection, repairs what a dead run left behind, records source observations, and flushes
catalog writes in batches (the warehouse ledger makes that crash safe).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterator

from . import catalog as cat
from . import partitions as parts
from . import sources
from .health import Health, upstream_partitions
from .lock import write_lock
from .models import Asset, Project
from .plan import Plan, Step
from .build import Builder
from .faults import fault
from .warehouse import Warehouse, ledger_row

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


@dataclass
class RunResult:
    """A finished run: its id, status and every step result."""

    run_id: str | None  # None: there was nothing to run
    status: str  # success | failed | canceled
    results: list[StepResult]
    backfill_id: str | None = None

    def failed(self) -> list[StepResult]:
        """Steps that failed (not the skipped ones)."""
        return [r for r in self.results if r.status == "failed"]


class Session:
    """A writing command's hold on the project: lock, warehouse, catalog writes."""

    def __init__(self, project: Project, clock: Callable[[], datetime], wh: Warehouse):
        self.project = project
        self.clock = clock
        self.wh = wh
        self.pending = cat.Batch()
        self.last_flush = time.monotonic()
        self.seq = 0
        self.step_seq = 0
        self.interrupted = False
        self.backfill_id: str | None = None
        self.recovered: dict = {}
        self.snapshot = cat.Snapshot.empty()  # the catalog as this session knows it
        self._unrecorded = unrecorded_marker(project.settings).exists()
        self.ids: dict[str, int] = {}  # runs and backfills recorded so far, by id prefix
        self.direct: dict[str, bool] = {}  # assets whose slices may skip staging (no checks)
        self.columns: dict[str, list[str]] = {}  # incremental tables' columns, once known
        self.held = None  # the catalog connection kept from start-up until the run is recorded
        self.commit_lock = threading.Lock()  # publishes commit one at a time, in ledger order

    @property
    def settings(self):
        return self.project.settings

    def flush(self, force: bool = False) -> None:
        """Write buffered catalog records (at most once a second unless forced)."""
        if not self.pending or (not force and time.monotonic() - self.last_flush < FLUSH_SECONDS):
            return
        fault("catalog")
        with self.catalog() as catalog:
            catalog.write(self.pending)
        self.pending = cat.Batch()
        self.last_flush = time.monotonic()
        self.recorded()

    @contextmanager
    def catalog(self) -> Iterator[cat.Catalog]:
        """The catalog for one write: the held connection, or a brief one."""
        if self.held is not None:
            yield self.held
            return
        catalog = cat.attach(self.wh.con, self.settings.catalog, wait=self.settings.wait_seconds)
        try:
            yield catalog
        finally:
            catalog.close()

    def release_catalog(self) -> None:
        """Let readers in: close the connection held since start-up (runs flush briefly)."""
        if self.held is not None:
            held, self.held = self.held, None
            held.close()

    def unrecorded(self) -> None:
        """Say (on disk) that the ledger is about to get rows the catalog has not recorded yet:
        if this process dies before its next flush, the next reader knows to repair."""
        if not self._unrecorded:
            unrecorded_marker(self.settings).touch()
            self._unrecorded = True

    def recorded(self) -> None:
        """Everything published is in the catalog again."""
        if self._unrecorded:
            unrecorded_marker(self.settings).unlink(missing_ok=True)
            self._unrecorded = False

    def next_seq(self) -> int:
        """The next materialization sequence number."""
        self.seq += 1
        return self.seq

    def next_step_seq(self) -> int:
        """The next step/check sequence number."""
        self.step_seq += 1
        return self.step_seq


def unrecorded_marker(settings):
    """The file that exists while the warehouse ledger may be ahead of the catalog."""
    return settings.catalog.parent / "unrecorded"


@contextmanager
def session(project: Project, command: str, clock: Callable[[], datetime], *, wait: float,
            on_wait=None, hold_catalog: bool = False) -> Iterator[Session]:
    """Lock the project, open the warehouse, repair and observe; flush and close at the end.

    With ``hold_catalog`` the catalog connection opened for the repair stays open (readers
    wait) until `run_plan` has recorded the run, so planning costs no second open.
    """
    state_dir = project.settings.catalog.parent
    project = replace(project, settings=replace(project.settings, wait_seconds=wait))
    with write_lock(state_dir, command, wait=wait, now=clock(), on_wait=on_wait):
        wh = Warehouse.open(project.settings, wait=wait)
        s = Session(project, clock, wh)
        try:
            s.held = cat.attach(wh.con, s.settings.catalog, wait=s.settings.wait_seconds)
            s.recovered = recover(s)
            observe_sources(s)
            if not hold_catalog:
                s.release_catalog()
            yield s
        finally:
            try:
                s.flush(force=True)
            finally:
                s.release_catalog()
                wh.close()


def recover(s: Session) -> dict:
    """Mark dead runs abandoned and copy published-but-unrecorded ledger rows to the catalog."""
    with s.catalog() as c:
        snap = c.snapshot()
        for run in snap.active_runs:  # we hold the lock: no live writer owns them
            c.mark_abandoned(run, s.clock())
        missing = s.wh.ledger_after(snap.max_seq)
        batch = cat.Batch(mats=missing, steps=_synthetic_steps(missing, c.max_step_seq()))
        c.write(batch)
        s.snapshot = c.snapshot() if (missing or snap.active_runs) else snap
        s.recorded()
        s.seq = max(snap.max_seq, s.wh.max_seq())
        s.step_seq = c.max_step_seq()
        s.ids = {prefix: c.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                 for prefix, table in (("r", "runs"), ("b", "backfills"))}
    return {"abandoned": [r.run_id for r in snap.active_runs], "recovered": len(missing)}


def _synthetic_steps(rows: list[dict], seq: int) -> list[dict]:
    """Success steps for ledger rows whose run died before recording them."""
    return [{"seq": seq + i + 1, "run_id": r["run_id"], "step": r["step"], "asset": r["asset"],
             "partitions": [r["partition_key"]], "status": "success", "started_at": None,
             "ended_at": r["created_at"], "error": None, "error_kind": None,
             "row_count": r["row_count"], "blocked_by": None, "code_version": r["code_version"],
             "reasons": "recovered from the warehouse ledger", "input_seq": r["seq"] - 1}
            for i, r in enumerate(rows) if r["kind"] == "materialization"]


def observe_sources(s: Session) -> None:
    """Record new or changed source data, and expose each source under its asset name."""
    snap = s.snapshot
    rows = []
    now = s.clock()
    for asset in (a for a in s.project.assets.values() if a.is_source):
        keys = parts.partition_keys(asset.partitions, now)
        versions = live_versions(s, asset, keys)
        for key, version in versions.items():
            mat = snap.current.get((asset.name, key))
            if version is not None and (mat is None or mat.data_version != version):
                rows.append(ledger_row(s.next_seq(), asset, key, None, None, now, None,
                                       "observation", data_version=version))
        s.wh.expose_source(asset, s.project.root, [k for k, v in versions.items() if v])
    if rows:
        s.unrecorded()
        s.wh.begin()
        s.wh.append_ledger(rows)
        s.wh.commit()
        s.pending.mats.extend(rows)
        s.flush(force=True)  # only when new source data arrived; readers see it at once
        seen = {(r["asset"], r["partition_key"]): cat.Mat(
            r["seq"], r["asset"], r["partition_key"], None, None, r["created_at"],
            r["code_version"], r["data_version"], None, "observation") for r in rows}
        s.snapshot = replace(snap, current={**snap.current, **seen},
                             max_seq=max(r["seq"] for r in rows))


def live_versions(s: Session, asset: Asset, keys: list[str]) -> dict[str, str | None]:
    """The data version of each partition of a source, as it is now."""
    if asset.source.table:
        return s.wh.observe_table(asset, keys)
    return sources.observe_files(asset, s.project.root, keys)


# -- running a plan ----------------------------------------------------------------------


def new_run_id(s: Session, prefix: str = "r") -> str:
    """The next run (r00012) or backfill (b00003) id; we hold the lock, so counting is safe."""
    s.ids[prefix] = s.ids.get(prefix, 0) + 1
    return f"{prefix}{s.ids[prefix]:05d}"


def run_plan(s: Session, plan: Plan, health: Health, *, command: str, args: str,
             backfill_id: str | None = None, on_event=None) -> RunResult:
    """Execute a plan step by step; record the run, its steps and materializations."""
    if not plan.steps:  # nothing to do is not a run
        return RunResult(None, "success", [], backfill_id)
    run_id = new_run_id(s)
    started = s.clock()
    run = {"run_id": run_id, "command": command, "status": "running", "started_at": started,
           "ended_at": None, "pid": os.getpid(), "host": os.uname().nodename, "args": args,
           "backfill_id": backfill_id, "error": None, "duck_version": _version()}
    s.pending.runs.append(dict(run))
    s.flush(force=True)
    s.release_catalog()
    runner = _Runner(s, plan, health, run_id, on_event)
    try:
        with _graceful_interrupt(s):
            runner.run_all()
    except KeyboardInterrupt:  # a second Ctrl-C: the open transaction dies with the process
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cancel record get written
        s.wh.rollback()
        s.pending.runs.append({**run, "status": "canceled", "ended_at": s.clock(),
                               "error": "interrupted"})
        s.flush(force=True)
        raise
    status = ("canceled" if s.interrupted else
              "failed" if any(r.status == "failed" for r in runner.results) else "success")
    s.pending.runs.append({**run, "status": status, "ended_at": s.clock()})
    if backfill_id:
        state = {"success": "completed", "canceled": "canceled"}.get(status, "partial")
        s.pending.backfills.append({"backfill_id": backfill_id, "status": state})
    s.flush(force=True)
    return RunResult(run_id, status, runner.results, backfill_id)


@contextmanager
def _graceful_interrupt(s: Session):
    """First Ctrl-C: finish the current step, then stop. Second: stop at once."""
    def handler(signum, frame):
        if s.interrupted:
            raise KeyboardInterrupt
        s.interrupted = True

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Runner:
    """Walks a plan's steps in order, skipping what a failure blocks."""

    def __init__(self, s: Session, plan: Plan, health: Health, run_id: str, on_event):
        self.s, self.plan, self.health, self.run_id = s, plan, health, run_id
        self.on_event = on_event or (lambda *a: None)
        self.results: list[StepResult] = []
        self.failed: dict[tuple[str, str], str] = {}  # (asset, key) -> root asset
        self.seqs = {(a, k): p.seq for a, h in health.assets.items()
                     for k, p in h.partitions.items()} if len(plan.steps) else {}

    def run_all(self) -> None:
        jobs = self.s.settings.jobs or default_jobs()
        if jobs > 1 and len(self.plan.steps) > 1:
            self.run_concurrently(jobs)
            return
        for step in self.plan.steps:
            if self.s.interrupted:
                break
            self.on_event("start", step, None)
            for result in self.run_step(step):
                self.record(step, result)
                self.on_event("done", step, result)
            self.s.flush()

    def run_step(self, step: Step) -> list[StepResult]:
        asset = self.s.project.assets[step.asset]
        blocked = {k: b for k in step.keys if (b := self._blocked_by(asset, k))}
        out = [self._skipped(step, k, b) for k, b in blocked.items()]
        todo = [k for k in step.keys if k not in blocked]
        if todo:
            out.extend(self.build_isolating(step, asset, todo))
        return out

    def build_isolating(self, step: Step, asset: Asset, todo: list[str], wh=None):
        """Build a step's partitions; if the data failed a batch, build them one by one."""
        result = self.build(step, asset, todo, wh)
        if result.status == "failed" and len(todo) > 1 and result.data_error:
            # isolate the bad partitions; errors in the SQL itself fail them all alike
            return [self.build(step, asset, [k], wh) for k in todo]
        return [result]

    def run_concurrently(self, jobs: int) -> None:
        """Run independent steps side by side on worker threads, each with its own warehouse
        connection; a step starts once every step it reads from has finished. Results are
        recorded on this thread, so the catalog batch and the progress stay single-threaded."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        after = step_dependencies(self.s.project, self.plan, self.slices_in_parallel)
        waiting = {st.index: set(after[st.index]) for st in self.plan.steps}
        dependents: dict[int, list[int]] = {}
        for i, deps in after.items():
            for d in deps:
                dependents.setdefault(d, []).append(i)
        ready = [i for i, deps in waiting.items() if not deps]
        local, views = threading.local(), []

        def work(step: Step, asset: Asset, todo: list[str]) -> list[StepResult]:
            wh = getattr(local, "wh", None)
            if wh is None:
                wh = local.wh = self.s.wh.worker()
                views.append(wh)
            return self.build_isolating(step, asset, todo, wh)

        running: dict = {}
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="duck-step")
        try:
            while ready or running:
                while ready and len(running) < jobs and not self.s.interrupted:
                    step = self.plan.steps[ready.pop(0)]
                    asset = self.s.project.assets[step.asset]
                    blocked = {k: b for k in step.keys if (b := self._blocked_by(asset, k))}
                    self.on_event("start", step, None)
                    skipped = [self._skipped(step, k, b) for k, b in blocked.items()]
                    todo = [k for k in step.keys if k not in blocked]
                    if todo:
                        running[pool.submit(work, step, asset, todo)] = (step, skipped)
                    else:
                        ready.extend(self._finish(step, skipped, waiting, dependents))
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f][0].index):
                    step, skipped = running.pop(future)
                    ready.extend(self._finish(step, skipped + future.result(), waiting,
                                              dependents))
                ready.sort()
                self.s.flush()
        except BaseException:
            self.s.interrupted = True
            for wh in views:  # stop the queries in flight; their transactions roll back
                wh.con.interrupt()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for wh in views:
                wh.close()
        self.results.sort(key=lambda r: r.step)

    def slices_in_parallel(self, name: str) -> bool:
        """Whether an asset's partition steps may run side by side once its first step is done.

        The first step creates the table or changes its columns if the SQL's have changed; after
        it, each step of an incremental asset without checks deletes and inserts its own slice
        of the table, and transactions on disjoint slices do not conflict. (A step that falls
        back to staging after it finds the same columns, so it alters nothing.)"""
        a = self.s.project.assets[name]
        return (a.partitions is not None and a.materialize is not None
                and a.materialize.strategy == "incremental" and not a.checks)

    def _finish(self, step: Step, results: list[StepResult], waiting, dependents) -> list[int]:
        """Record a finished step; return the steps that became ready."""
        for result in results:
            self.record(step, result)
            self.on_event("done", step, result)
        now_ready = []
        for i in dependents.get(step.index, ()):
            waiting[i].discard(step.index)
            if not waiting[i]:
                now_ready.append(i)
        return now_ready

    def _blocked_by(self, asset: Asset, key: str) -> str | None:
        for up in upstream_partitions(self.s.project, self.health, asset.name, key):
            if up in self.failed:
                return self.failed[up]
        return None

    def _skipped(self, step: Step, key: str, root: str) -> StepResult:
        now = self.s.clock()
        return StepResult(step.index, step.asset, (key,), "skipped", now, now,
                          error=f"blocked by {root}", error_kind="blocked", blocked_by=root)

    def build(self, step: Step, asset: Asset, keys: list[str], wh=None) -> StepResult:
        started, t0 = self.s.clock(), time.perf_counter()
        builder = Builder(self.s, asset, keys, self.run_id, step.index, wh)
        builder.input_seq = max((self.seqs.get(u, 0) for k in keys for u in
                                 upstream_partitions(self.s.project, self.health, asset.name, k)),
                                default=0)
        result = builder.run(started)
        result.seconds = time.perf_counter() - t0
        return result

    def record(self, step: Step, r: StepResult) -> None:
        self.results.append(r)
        if r.status != "success":
            root = r.blocked_by or r.asset
            self.failed.update({(r.asset, k): root for k in r.keys})
        s = self.s
        seq = s.next_step_seq()
        s.pending.steps.append({
            "seq": seq, "run_id": self.run_id, "step": step.index, "asset": r.asset,
            "partitions": list(r.keys), "status": r.status, "started_at": r.started_at,
            "ended_at": r.ended_at, "error": r.error, "error_kind": r.error_kind,
            "row_count": r.row_count, "blocked_by": r.blocked_by,
            "code_version": s.project.assets[r.asset].code_version,
            "reasons": "; ".join(step.reasons), "input_seq": r.input_seq})
        s.pending.checks.extend(_check_rows(s, self.run_id, step.index, r, seq))
        s.pending.mats.extend(r.ledger)
        for row in r.ledger:
            self.seqs[(row["asset"], row["partition_key"])] = row["seq"]


def default_jobs() -> int:
    """Steps run side by side by default: DuckDB parallelizes inside each statement, so a few
    workers are enough to overlap the per-statement costs of small ones."""
    return max(1, min(4, os.cpu_count() or 1))


def step_dependencies(project: Project, plan: Plan,
                      slices_in_parallel: Callable[[str], bool] = lambda name: False,
                      ) -> dict[int, tuple[int, ...]]:
    """For each step, the earlier steps it must wait for: the latest step of every planned asset
    it reads, directly or through assets the plan does not rebuild (a view over a rebuilt table
    reads the new data), and the previous step of the same asset; or, for an asset whose slices
    may be built side by side, only its first step (which shows the SQL fits the table)."""
    planned = {step.asset for step in plan.steps}
    frontier: dict[str, frozenset[str]] = {}

    def reach(name: str) -> frozenset[str]:
        if name not in frontier:
            frontier[name] = frozenset()  # a guard; the graph has no cycles
            out: set[str] = set()
            asset = project.assets.get(name)
            ups = set(asset.upstream) | {r for r in asset.reads if r in project.assets} \
                if asset else set()
            for up in ups:
                out |= {up} if up in planned else reach(up)
            frontier[name] = frozenset(out)
        return frontier[name]

    parallel = {name: slices_in_parallel(name) for name in planned}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    deps: dict[int, tuple[int, ...]] = {}
    for step in plan.steps:
        found = {last[n] for n in reach(step.asset) if n in last} | set(step.needs)
        own = (first if parallel[step.asset] else last).get(step.asset)
        if own is not None:
            found.add(own)
        deps[step.index] = tuple(sorted(found))
        first.setdefault(step.asset, step.index)
        last[step.asset] = step.index
    return deps


def _check_rows(s: Session, run_id: str, step: int, r: StepResult, seq: int) -> list[dict]:
    return [{"seq": seq, "run_id": run_id, "step": step, "asset": r.asset, "partition_key": k,
             "check_name": c.name, "kind": c.kind, "severity": c.severity, "passed": c.passed,
             "observed": c.observed, "failing": c.failing, "message": c.message,
             "sample": json.dumps(list(c.sample), default=str), "created_at": r.ended_at,
             "stage": "audit"} for c in r.checks for k in r.keys]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("duck-cli")
    except PackageNotFoundError:
        return "dev"
