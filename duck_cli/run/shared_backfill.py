"""Several runners on one backfill: `duck backfill` started by N processes (on N machines)
against one PostgreSQL state and one DuckLake warehouse shares the work.

Each runner plans the request as usual, then finds or records the backfill the request's
runners share (`postgres_claims.open_shared`: same selection, partitions and options, same
backfill) and enqueues the plan's partitions as items, each with its stage (how deep its step
is in the plan: a partition is built after those it reads, and a new table's first partition
before its others). Then it claims items (``FOR UPDATE SKIP LOCKED``: two runners never take
the same one): the adjacent partitions its plan batches into one step, at most an eighth of
what is pending, so claims shrink to single items at the end and the runners finish together.
It builds them as one step of its own run (stage, audit, publish into the lake, as any step:
one statement and one publish for the batch, as the local backfill), then records them and
marks them done in one state transaction, keeping its claims alive with heartbeats from a
thread. Each partition stays a claim of its own. A runner that dies loses its claims once its lease runs out;
whoever takes such an item over first checks whether the dead runner had already published it
(recorded, or in the lake's ledger) and only builds it if not, so no partition is built twice.
The local mode (one process at a time, its lock file) never comes here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, replace

from duck_cli.graph import partitions
from duck_cli.graph.select import as_selection
from duck_cli.health.assess import state_of
from duck_cli.plan.builder import Plan
from duck_cli.plan.steps import Step
from duck_cli.records import BackfillRecord, RunStatus
from duck_cli.run.runner import Runner
from duck_cli.run.recovery import recover
from duck_cli.run.session import Session
from duck_cli.state.postgres_claims import Claims, Item, open_shared, request_key

LEASE_SECONDS = 30.0  # a claim lapses this long after its runner's last heartbeat
JOIN_SECONDS = 60.0  # a runner starting this late after its siblings finished joins them
POLL_SECONDS = 0.2  # how often a runner with nothing to claim looks again
CLAIM_SHARE = 8  # a claim takes at most an eighth of what is pending (see Claims.claim)


@dataclass(frozen=True)
class Shared:
    """One runner's part in a shared backfill."""

    backfill_id: str
    runner: str  # who builds: --runner NAME, or host:pid
    lease: float
    items: int  # how many items the plan enqueued

    def walk(self, s: Session, plan: Plan, runner: Runner, on_event) -> None:
        """Build the partitions this runner claims until the backfill has none left."""
        Walk(s, plan, self, on_event).run(runner)

    def final_status(self, s: Session, run_status: str) -> str | None:
        """The backfill's status once this runner stops (`final_status`)."""
        return final_status(s, self, run_status)


def _schema(s: Session) -> str:
    """The state's schema (an environment's own): the claims' search_path."""
    return getattr(s.state, "schema", "duck")


def runner_name(name: str | None) -> str:
    """--runner, else host:pid."""
    return name or f"{os.uname().nodename}:{os.getpid()}"


def join(s: Session, plan: Plan, selection, opts, resumed, *, runner: str | None,
         lease: float) -> Shared:
    """Find (or record) the backfill this request's runners share and enqueue the plan."""
    items = plan_items(s, plan)
    with s.catalog() as c:
        if resumed is not None:
            backfill_id = resumed.backfill_id
            Claims(c.con, backfill_id, "", schema=_schema(s)).enqueue(items)
        else:
            request = _request(selection, opts)
            key = request_key(request)
            record = BackfillRecord("", s.clock(), request["selection"], json.dumps(
                _requested(plan)), json.dumps({**request["options"], "shared": key}),
                "requested")
            backfill_id, _joined = open_shared(c.con, record, key, items,
                                               floor=s.ids.get("b", 0),
                                               join_seconds=JOIN_SECONDS, schema=_schema(s))
    return Shared(backfill_id, runner_name(runner), lease, len(items))


def _request(selection, opts) -> dict:
    """What identifies a backfill request (and the options its record keeps)."""
    return {"selection": as_selection(selection).text(), "keys": list(opts.keys),
            "from": opts.first, "to": opts.last,
            "options": {"downstream": opts.downstream, "batch_size": opts.batch_size,
                        "missing": opts.missing, "failed": opts.failed}}


def _requested(plan: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for step in plan.steps:
        out.setdefault(step.asset, []).extend(step.keys)
    for held in plan.blocked():
        out.setdefault(held.asset, []).extend(held.keys)
    return out


def plan_items(s: Session, plan: Plan) -> list[Item]:
    """The plan's partitions as claimable items, each with its stage: one past the deepest
    step it reads; a table not built yet gets its first partition a stage of its own (that
    build creates the table the others then replace slices of)."""
    level: dict[int, int] = {}  # a step's deepest item
    first: dict[str, int] = {}  # the stage of a new table's first item
    items = []
    for step in plan.steps:
        base = max((level[n] + 1 for n in step.needs), default=0)
        for key in step.keys:
            stage = base
            if step.asset in first:
                stage = max(stage, first[step.asset] + 1)
            elif not s.wh.exists(s.project.assets[step.asset].relation):
                first[step.asset] = stage
            items.append(Item(step.asset, key, stage))
            level[step.index] = max(level.get(step.index, 0), stage)
    return items


class Walk:
    """One runner's loop: claim items, build them, record them, mark them done; until none is
    left. Adjacent partitions the plan batches into one step are claimed together and built
    as one step (one statement, one publish), as the local backfill builds them; each stays a
    claim of its own, so a runner that dies loses each to the next runner's check."""

    def __init__(self, s: Session, plan: Plan, shared: Shared, on_event):
        self.s, self.shared = s, shared
        self.on_event = on_event or (lambda *a: None)
        self.steps = {(st.asset, k): st for st in plan.steps for k in st.keys}
        self.batch = max((len(st.keys) for st in plan.steps), default=1)
        self.index = 0
        self.stage: int | None = None

    def run(self, runner: Runner) -> None:
        """Work until every item of the backfill is finished (or this runner is stopped).
        One state connection for the runner's life: its claims and its records (a new
        connection per partition cost as much as the records)."""
        s = self.s
        store = s.held = s.state.writer(s.wh, wait=s.settings.wait_seconds)
        claims = Claims(store.con, self.shared.backfill_id, self.shared.runner,
                        self.shared.lease, schema=_schema(s))
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(s, self.shared, stop),
                                daemon=True, name="duck-heartbeat")
        beat.start()
        try:
            self.loop(runner, claims)
        finally:
            stop.set()
            if s.interrupted:
                claims.release()  # a clean stop gives its claims back at once
            s.release_catalog()

    def loop(self, runner: Runner, claims: Claims) -> None:
        while not self.s.interrupted:
            got = claims.claim(self.batch, share=CLAIM_SHARE)
            if not got:
                if claims.progress().finished:
                    return
                time.sleep(POLL_SECONDS)  # others hold the rest: wait for them or their lease
                continue
            for group in self.groups(got):
                self.work(runner, claims, group)

    def groups(self, items: list[Item]) -> list[list[Item]]:
        """Claimed items as the units to build: adjacent partitions of one planned step
        together (up to its batch), anything else (and a lapsed claim taken over) alone."""
        alone, by_step = [], {}
        for item in items:
            planned = self.steps.get((item.asset, item.partition))
            if planned is None or item.taken_from is not None or len(planned.keys) == 1:
                alone.append([item])
            else:
                by_step.setdefault(planned.index, (planned, {}))[1][item.partition] = item
        out = alone
        for planned, keyed in by_step.values():
            defn = self.s.project.assets[planned.asset].partitions
            keys = [k for k in planned.keys if k in keyed]
            out += [[keyed[k] for k in run] for run in partitions.batches(defn, keys, len(keys))]
        return sorted(out, key=lambda g: (g[0].stage, g[0].asset, g[0].partition))

    def work(self, runner: Runner, claims: Claims, group: list[Item]) -> None:
        """Build claimed items (unless a runner that died had published it), then record
        them and mark them done in one state transaction."""
        first = group[0]
        if first.stage != self.stage:
            self.next_stage(runner, first.stage)
        if first.taken_from is not None and self.built_before(first):
            claims.done(first, built_by=first.taken_from)
            return
        built = self.build(runner, group)
        with claims.con.transaction():  # recorded before (and with) its mark: one commit
            self.s.flush(force=True)
            for item in group:
                claims.done(item, status="done" if built.get(item.partition) else "failed")

    def next_stage(self, runner: Runner, stage: int) -> None:
        """Read the state again before a new stage: what the other runners built is upstream
        of it (the input versions it records) and may have created its tables."""
        if stage > 0:  # stage 0 reads nothing of the backfill's: the session's state serves
            self.s.refresh()
            self.s.wh.load_kinds()
            runner.health = state_of(self.s.project, self.s.snapshot, self.s.clock(),
                                     self.s.live).health
            runner.seqs = {(a, k): p.seq for a, h in runner.health.assets.items()
                           for k, p in h.partitions.items()}
        self.stage = stage

    def build(self, runner: Runner, group: list[Item]) -> dict[str, bool]:
        """Build items as one step of this run and record them; per partition, whether it
        succeeded (a batch that failed on its data is built again one by one: `Runner`)."""
        step = self.step_for(group)
        self.on_event("start", step, None)
        ok: dict[str, bool] = {}
        for result in runner.run_step(step):
            runner.record(step, result)
            self.on_event("done", step, result)
            ok.update((k, result.status == RunStatus.SUCCESS) for k in result.keys)
        return ok

    def step_for(self, group: list[Item]) -> Step:
        """A step of this run for ``group`` (adjacent partitions of one asset; its reasons
        from the plan)."""
        self.index += 1
        first = group[0]
        planned = self.steps.get((first.asset, first.partition))
        if planned is None:  # enqueued by a runner whose plan was wider than this one's
            planned = Step(0, first.asset, (), (f"requested by backfill {self.shared.backfill_id}",),
                           ("backfill",), ())
        return replace(planned, index=self.index - 1, keys=tuple(i.partition for i in group),
                       needs=(), after=(), upstream=())

    def built_before(self, item: Item) -> bool:
        """Whether a runner of this backfill that died published ``item`` before it could mark
        it done (recorded, or only in the lake's ledger: recorded now)."""
        s = self.s
        recover(s)
        mat = s.snapshot.current.get((item.asset, item.partition))
        if mat is None or mat.kind != "materialization" or not mat.run_id:
            return False
        with s.catalog() as c:
            row = c.con.execute("SELECT backfill_id FROM runs WHERE run_id = %s",
                                [mat.run_id]).fetchone()
        return row is not None and row[0] == self.shared.backfill_id


def _heartbeat(s: Session, shared: Shared, stop: threading.Event) -> None:
    """Keep this runner's claims alive until ``stop`` (a third of the lease apart)."""
    try:
        con = s.state.connect()
    except Exception:  # noqa: BLE001 - the claims lapse; the main loop reports the state
        return
    try:
        claims = Claims(con, shared.backfill_id, shared.runner, shared.lease,
                        schema=_schema(s))
        while not stop.wait(shared.lease / 3):
            claims.heartbeat()
    except Exception:  # noqa: BLE001 - a lost connection: the lease lapses, others take over
        pass
    finally:
        con.close()


def final_status(s: Session, shared: Shared, run_status: str) -> str | None:
    """The backfill's status once this runner stops: completed (or partial, with failures)
    when every item is finished; None (unchanged) while other runners still work."""
    if run_status == RunStatus.CANCELED:
        return None
    con = s.state.connect()
    try:
        progress = Claims(con, shared.backfill_id, shared.runner,
                          schema=_schema(s)).progress()
    finally:
        con.close()
    if not progress.finished:
        return None
    return "completed" if progress.failed == 0 else "partial"
