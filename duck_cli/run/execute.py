"""Run a plan: for each step stage the SQL, audit it with the checks, publish, and record."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

from duck_cli import __version__
from duck_cli.health.assess import Health
from duck_cli.plan.builder import Plan
from duck_cli.records import BackfillStatus, RunRecord, RunStatus
from duck_cli.run.runner import Runner
from duck_cli.run.session import RunResult, Session, new_run_id


def run_plan(s: Session, plan: Plan, health: Health, *, command: str, args: str,
             backfill_id: str | None = None, on_event=None, shared=None) -> RunResult:
    """Execute a plan step by step; record the run, its steps and materializations. With
    ``shared`` (a `shared_backfill.Shared`, which brings its own walk so that a file-mode run
    never imports the PostgreSQL claims), build the partitions this runner claims of a
    backfill other runners work on too."""
    if not plan.steps:  # nothing to do is not a run
        return RunResult(None, RunStatus.SUCCESS, [], backfill_id)
    run_id = s.run_id = new_run_id(s)
    started = s.clock()
    run = RunRecord(run_id, command, RunStatus.RUNNING, started, None, os.getpid(),
                    os.uname().nodename, args, backfill_id, None, __version__)
    s.pending.runs.append(run)
    s.flush(force=True)
    s.release_catalog(final=False)  # the run's end is recorded (and checkpointed) later
    runner = Runner(s, plan, health, run_id, on_event)
    try:
        with _graceful_interrupt(s):
            if shared is None:
                runner.run_all()
            else:
                shared.walk(s, plan, runner, on_event)
    except KeyboardInterrupt:  # a second Ctrl-C: the open transaction dies with the process
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cancel record get written
        s.wh.rollback()
        s.pending.runs.append(run._replace(status=RunStatus.CANCELED, ended_at=s.clock(),
                                           error="interrupted"))
        s.flush(force=True)
        raise
    status = (RunStatus.CANCELED if s.interrupted else RunStatus.FAILED
              if any(r.status == RunStatus.FAILED for r in runner.results) else RunStatus.SUCCESS)
    s.pending.runs.append(run._replace(status=status, ended_at=s.clock()))
    if backfill_id:
        state = {"success": "completed", "canceled": "canceled"}.get(status, "partial") \
            if shared is None else shared.final_status(s, status)
        if state is not None:
            s.pending.backfills.append(BackfillStatus(backfill_id, state))
    s.flush(force=True)
    return RunResult(run_id, status, runner.results, backfill_id)


@contextmanager
def _graceful_interrupt(s: Session):
    """First Ctrl-C (or a SIGTERM, as a service manager or CI sends): finish the current step,
    then stop. A second Ctrl-C: stop at once."""
    def handler(signum, frame):
        if signum == signal.SIGTERM:
            s.terminated = True
        elif s.interrupted:
            raise KeyboardInterrupt
        s.interrupted = True

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, was in previous.items():
            signal.signal(sig, was)

