"""Walking a plan: steps one by one in plan order, or side by side on worker threads.

The plan decides what waits for what (`Step.after`, `Step.upstream`); the runner executes
exactly that. A step starts once every step it waits for has finished; results are recorded on
the calling thread, so the catalog batch and the progress stay single-threaded. Publishes commit under the
session's commit lock, in ledger order (see `build.Builder.finish`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

from duck_cli.health.assess import Health, breaks_readers, upstream_partitions
from duck_cli.models import FULL_REFRESH, Asset
from duck_cli.plan.builder import Plan
from duck_cli.plan.steps import Step, slices_in_parallel
from duck_cli.records import RunStatus, StepRecord
from duck_cli.run import inputs, python_process
from duck_cli.run.build import Builder
from duck_cli.run.lake_publish import LakeBuilder
from duck_cli.run.group import creates_table, run_group, shares_transaction
from duck_cli.run.checks import check_records
from duck_cli.run.transaction import plain_step
from duck_cli.run.session import Session, StepResult


GROUP_MAX = 32  # simple steps sharing one transaction (all are redone if one fails)


class Runner:
    """Walks a plan's steps in order, skipping what a failure blocks."""

    def __init__(self, s: Session, plan: Plan, health: Health, run_id: str, on_event):
        self.s, self.plan, self.health, self.run_id = s, plan, health, run_id
        self.on_event = on_event or (lambda *a: None)
        self.results: list[StepResult] = []
        self.failed: dict[tuple[str, str], str] = {}  # (asset, key) -> root asset
        self.seqs = {(a, k): p.seq for a, h in health.assets.items()
                     for k, p in h.partitions.items()}

    def run_all(self) -> None:
        """Run the plan's steps; the Python worker processes they started stop with the run."""
        try:
            jobs = self.s.settings.jobs or default_jobs()
            if jobs > 1 and len(self.plan.steps) > 1:
                self.run_concurrently(jobs)
            else:
                self.run_in_order()
        finally:
            python_process.close(self.s)

    def run_in_order(self) -> None:
        """Run the steps one by one, in plan order."""
        for step in self.plan.steps:
            if self.s.interrupted:
                break
            self.on_event("start", step, None)
            for result in self.run_step(step):
                self.record(step, result)
                self.on_event("done", step, result)
            self.s.flush()

    def run_step(self, step: Step) -> list[StepResult]:
        asset, skipped, todo = self._split(step)
        return skipped + (self.build_isolating(step, asset, todo) if todo else [])

    def _split(self, step: Step) -> tuple[Asset, list[StepResult], list[str]]:
        """A step's asset, the skips of its partitions a failure upstream blocks, the rest."""
        asset = self.s.project.assets[step.asset]
        blocked = {k: b for i, k in enumerate(step.keys) if (b := self._blocked_by(step, i))}
        todo = [k for k in step.keys if k not in blocked]
        return asset, [self._skipped(step, k, b) for k, b in blocked.items()], todo

    def build_isolating(self, step: Step, asset: Asset, todo: list[str], wh=None):
        """Build a step's partitions; if the data failed a batch, build them one by one."""
        result = self.build(step, asset, todo, wh)
        if result.status == RunStatus.FAILED and len(todo) > 1 and result.data_error:
            # isolate the bad partitions; errors in the SQL itself fail them all alike
            return [self.build(step, asset, [k], wh) for k in todo]
        return [result]

    def run_concurrently(self, jobs: int) -> None:
        """Run independent steps side by side on worker threads, each with its own warehouse
        connection; a step starts once every step it reads from has finished. Ready steps that
        are plain statements on their table (`_simple`) go to a worker in groups that share one
        transaction (`group.run_group`). Results are recorded on this thread, so the catalog
        batch and the progress stay single-threaded."""
        created = self._create_tables()
        waiting = {st.index: set(st.after) - {created.get(st.asset)} for st in self.plan.steps}
        dependents: dict[int, list[int]] = {}
        for i, deps in waiting.items():
            for d in deps:
                dependents.setdefault(d, []).append(i)
        ready = [i for i, deps in waiting.items() if not deps]
        workers, running, pool = _Workers(self), {}, _Threads(jobs)
        try:
            while ready or running:
                while ready and len(running) < jobs and not self.s.interrupted:
                    batch, skipped = self._next_batch(ready, jobs - len(running), waiting,
                                                      dependents)
                    if batch:
                        running[pool.start(workers.work, batch)] = (batch, skipped)
                if not running:
                    break
                for job, results, err in sorted(pool.finished(),
                                                key=lambda d: running[d[0]][0][0][0].index):
                    if err is not None:
                        raise err
                    batch, skipped = running.pop(job)
                    for (step, _a, _k), result in zip(batch, results):
                        ready.extend(self._finish(step, skipped[step.index] + result, waiting,
                                                  dependents))
                ready.sort()
                self.s.flush()
        except BaseException:
            self.s.interrupted = True
            workers.interrupt()  # stop the queries in flight; their transactions roll back
            raise
        finally:
            pool.join()
            workers.close()
            self._drop_unfilled(created)
        self.results.sort(key=lambda r: r.step)

    def _create_tables(self) -> dict[str, int]:
        """Before the steps run side by side: each new incremental table whose slices may be
        built side by side (`slices_in_parallel`, plain statements) and whose first step
        reads nothing this run builds is created empty (`Builder.create_empty`), so that its
        first slice no longer goes before the others. The assets made, with their first
        step (which the others then do not wait for)."""
        s = self.s
        if s.wh.lake:  # a lake's group creates the table with its first slices instead
            return {}
        count = Counter(st.asset for st in self.plan.steps)
        firsts: dict = {}  # each asset's first step
        for st in self.plan.steps:
            firsts.setdefault(st.asset, st)
        made = {}
        for name, st in firsts.items():
            asset = s.project.assets[name]
            if (count[name] > 1 and not st.after and slices_in_parallel(asset)
                    and plain_step(s.wh, asset) and s.wh.table_kind(asset.relation) is None
                    and self.builder(st, asset, list(st.keys)).create_empty()):
                made[name] = st.index
        return made

    def _drop_unfilled(self, made: dict[str, int]) -> None:
        """Drop a table `_create_tables` made that no step filled (each failed, or none ran
        before a Ctrl-C): a first build that fails leaves no table, as it did when its first
        step created it (and an environment then reads production's)."""
        from duck_cli.engine import duckdb

        filled = {r.asset for r in self.results if r.status == RunStatus.SUCCESS}
        for name in made:
            if name not in filled:
                try:
                    self.s.wh.drop(name)
                except duckdb.Error:  # kept empty; the next build fills it
                    pass

    def _next_batch(self, ready: list[int], free: int, waiting, dependents):
        """The steps one worker takes next (`_take`), as (step, asset, keys to build), and the
        skips of their blocked partitions; a step left with nothing to build finishes here."""
        batch, skipped = [], {}
        for i in self._take(ready, free, waiting, dependents):
            step = self.plan.steps[i]
            self.on_event("start", step, None)
            asset, skipped[i], todo = self._split(step)
            if todo:
                batch.append((step, asset, todo))
            else:
                ready.extend(self._finish(step, skipped[i], waiting, dependents))
        return batch, skipped

    def _take(self, ready: list[int], free: int, waiting, dependents) -> list[int]:
        """The next ready step, with (if it is simple) its share of the other simple ready
        steps: they are spread over the free workers, at most GROUP_MAX to a transaction."""
        first = ready.pop(0)
        if not self._simple(first):
            return [first] + self._first_slices(first, waiting, dependents)
        others = [i for i in ready if self._simple(i)]
        size = min(GROUP_MAX, -(-(len(others) + 1) // free)) - 1
        taken = others[:size]
        if self.s.wh.lake:  # all of a table's ready steps in one transaction: DuckLake checks
            # transactions on one table against each other at commit (slow, or a conflict)
            asset = self.plan.steps[first].asset
            same = [i for i in others if self.plan.steps[i].asset == asset]
            rest = [i for i in others if self.plan.steps[i].asset != asset]
            taken = (same + rest[:max(0, size - len(same))])[:GROUP_MAX - 1]
        if taken:
            gone = set(taken)
            ready[:] = [i for i in ready if i not in gone]
        return [first] + taken

    def _first_slices(self, first: int, waiting, dependents) -> list[int]:
        """In a lake, when ``first`` is the step that creates its table (`group.creates_table`):
        the steps of that table waiting for nothing else, taken now to share its transaction
        (the group creates the table in it) rather than start after it, one lake commit later.
        They are no longer its dependents: its finish must not make them ready again."""
        step = self.plan.steps[first]
        if not self.s.wh.lake or not creates_table(self.s.wh, self.s.project.assets[step.asset]):
            return []
        taken = [i for i in dependents.get(first, ()) if waiting[i] == {first}
                 and self.plan.steps[i].asset == step.asset][:GROUP_MAX - 1]
        if taken:
            gone = set(taken)
            dependents[first] = [i for i in dependents[first] if i not in gone]
        return taken

    def _simple(self, index: int) -> bool:
        """Whether a ready step can share a transaction (`group.shares_transaction`)."""
        asset = self.s.project.assets[self.plan.steps[index].asset]
        return shares_transaction(self.s, self.s.wh, asset)

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

    def _blocked_by(self, step: Step, i: int) -> str | None:
        """The root asset of a failure this run among what the step's ``i``-th key reads."""
        for up in step.reads(i):
            if up in self.failed:
                return self.failed[up]
        return None

    def _skipped(self, step: Step, key: str, root: str) -> StepResult:
        now = self.s.clock()
        return StepResult(step.index, step.asset, (key,), RunStatus.SKIPPED, now, now,
                          error=f"blocked by {root}", error_kind="blocked", blocked_by=root)

    def build(self, step: Step, asset: Asset, keys: list[str], wh=None) -> StepResult:
        started, t0 = self.s.clock(), time.perf_counter()
        result = self.builder(step, asset, keys, wh).run(started)
        result.seconds = time.perf_counter() - t0
        return result

    def builder(self, step: Step, asset: Asset, keys: list[str], wh=None) -> Builder:
        """A builder for some of a step's partitions, knowing the upstream data it reads."""
        kind = LakeBuilder if self.s.wh.lake else Builder  # a lake: staged, retried publishes
        b = kind(self.s, asset, keys, self.run_id, step.index, wh)
        b.full_refresh = FULL_REFRESH in step.reasons
        b.kept = {k: p.seq for k in keys if (p := self.health.partition(asset.name, k)).reasons
                  and not breaks_readers(p)}
        b.inputs = inputs.step_inputs(self.s, self.health, asset, keys)
        b.input_seq = max((self.seqs.get(u, 0) for k in keys for u in
                           upstream_partitions(self.s.project, self.health, asset.name, k)),
                          default=0)
        return b

    def record(self, step: Step, r: StepResult) -> None:
        self.results.append(r)
        if r.status != RunStatus.SUCCESS:
            root = r.blocked_by or r.asset
            self.failed.update({(r.asset, k): root for k in r.keys})
        s = self.s
        seq = s.next_step_seq()
        s.pending.steps.append(StepRecord(
            seq, self.run_id, step.index, r.asset, list(r.keys), r.status, r.started_at,
            r.ended_at, r.error, r.error_kind, r.row_count, r.blocked_by,
            s.project.assets[r.asset].code_version, "; ".join(step.reasons), r.input_seq, r.log))
        s.pending.checks.extend(check_records(
            [(r.asset, k, c) for c in r.checks for k in r.keys], lambda: seq,
            run_id=self.run_id, step=step.index, at=r.ended_at, stage="audit"))
        s.pending.mats.extend(r.ledger)
        s.add_in_flight(-len(r.ledger))
        for row in r.ledger:
            self.seqs[(row.asset, row.partition_key)] = row.seq


def default_jobs() -> int:
    """Steps run side by side by default: DuckDB parallelizes inside each statement, so a few
    workers are enough to overlap the per-statement costs of small ones. At least 2 even on one
    core: the workers group small steps into shared transactions (the 200-asset bench DAG builds
    in 1.22 s with 2 workers on one core, 1.54 s one step at a time)."""
    return max(2, min(4, os.cpu_count() or 1))


class _Threads:
    """At most ``size`` long-lived worker threads (each keeps its warehouse connection,
    `_Workers`) and the jobs finished so far: what `run_concurrently` needs of a pool, without
    importing concurrent.futures and the logging it loads (about 5 ms a command)."""

    def __init__(self, size: int):
        from queue import SimpleQueue

        self.size = size
        self.todo: SimpleQueue = SimpleQueue()  # (job, work, arg), None to stop a thread
        self.done: SimpleQueue = SimpleQueue()  # (job, results, error) as jobs end
        self.threads: list[threading.Thread] = []
        self.jobs = 0

    def start(self, work, arg) -> int:
        """Queue ``work(arg)`` for a worker thread (started when fewer than ``size`` run);
        the job's number."""
        job, self.jobs = self.jobs, self.jobs + 1
        self.todo.put((job, work, arg))
        if len(self.threads) < self.size:
            thread = threading.Thread(target=self._serve, name=f"duck-step-{len(self.threads)}")
            self.threads.append(thread)
            thread.start()
        return job

    def _serve(self) -> None:
        while (item := self.todo.get()) is not None:
            job, work, arg = item
            try:
                self.done.put((job, work(arg), None))
            except BaseException as err:  # noqa: BLE001 - raised again on the caller's thread
                self.done.put((job, None, err))

    def finished(self) -> list[tuple[int, list | None, BaseException | None]]:
        """The jobs that ended, waiting for one at least: (job, results, error raised)."""
        out = [self.done.get()]
        while not self.done.empty():
            out.append(self.done.get())
        return out

    def join(self) -> None:
        """Drop the jobs not started yet, stop the threads and wait for them."""
        from queue import Empty

        try:
            while True:
                self.todo.get_nowait()
        except Empty:
            pass
        for _thread in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()


class _Workers:
    """The worker threads' warehouse connections (one per thread, opened on first use)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.local = threading.local()
        self.opened: list = []

    def work(self, batch: list[tuple[Step, Asset, list[str]]]) -> list[list[StepResult]]:
        """Build a batch on this thread: as one group transaction when it can, else one by one."""
        r = self.runner
        wh = getattr(self.local, "wh", None)
        if wh is None:
            wh = self.local.wh = r.s.wh.worker()
            self.opened.append(wh)
        if len(batch) > 1:
            grouped = run_group(r.s, [r.builder(st, a, keys, wh) for st, a, keys in batch], wh)
            if grouped is not None:  # fewer results than steps after a first Ctrl-C
                return [[res] for res in grouped]
        out = []
        for st, a, keys in batch:
            if r.s.interrupted:  # first Ctrl-C: finish the step in progress, then stop
                break
            out.append(r.build_isolating(st, a, keys, wh))
        return out

    def interrupt(self) -> None:
        """Stop the queries in flight (Ctrl-C twice, or an error on the main thread)."""
        for wh in self.opened:
            wh.con.interrupt()
        if self.runner.s.python_workers is not None:
            self.runner.s.python_workers.kill_all()

    def close(self) -> None:
        """Close the worker connections."""
        for wh in self.opened:
            wh.close()
