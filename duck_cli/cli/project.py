"""What every command body starts from: the project, its state, a selection, a writing session.

Each helper takes the invocation's `Env` for the clock, the environment and the screen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from duck_cli.cli.env import Env
from duck_cli.cli.environments import note_build, with_environment
from duck_cli.cli.options import Keys, RunOptions, Target
from duck_cli.errors import ExitCode, LockedError, UsageError
from duck_cli.graph.select import Selection
from duck_cli.models import Project
from duck_cli.sql import PROD
from duck_cli.report import render


def open_project(target: Target, env: Env) -> Project:
    """The validated project named by -p (or DUCK_PROJECT, or the current folder)."""
    from duck_cli.graph.partitions import check_counts
    from duck_cli.manifest.load import load_project
    from duck_cli.manifest.settings import find_root

    project = load_project(find_root(target.project, env.environ), variables=target.variables)
    project = with_environment(project, target.env, env.environ)
    check_counts(project.assets.values(), env.now(), project.settings.max_partitions)
    _note_selection(target, env)
    return project


def _note_selection(target: Target, env: Env) -> None:
    """Warn where a comma changed meaning (union before, intersection now, as in dbt)."""
    from duck_cli.graph.select import comma_warnings

    for note in comma_warnings(target.selector):
        render.warning(env.screen, note)


def read_state(project: Project, env: Env):
    """Health from one snapshot; first repair what a dead writer left behind, if anything."""
    from duck_cli.state.backends import state_backend
    from duck_cli.state.held import reader_check
    from duck_cli.state.snapshot import dead_runs, unrecorded_marker

    state, wait = state_backend(project.settings), project.settings.wait_seconds
    snap = state.read_snapshot(wait)
    if dead_runs(snap) or (unrecorded_marker(project.settings).exists()
                           and not state.is_locked()):
        _repair(project, env)
        snap = state.read_snapshot(wait)
    snap = reader_check(project, snap, locked=state.is_locked())
    return state_from(project, env.now(), snap, _base(project, env))


def _base(project: Project, env: Env):
    """In an environment, production's snapshot (which it defers to); else None."""
    if project.settings.env == PROD:
        return None
    from dataclasses import replace as with_settings

    from duck_cli.state.environments import production

    prod = with_settings(project, settings=production(project.settings))
    return read_state(prod, env).snapshot


def state_from(project: Project, now: datetime, snap, base=None):
    """What a reading command knows: health from one snapshot and the live source observations
    (a writing command uses `state_in`: what its session observed under the lock); in an
    environment, merged with production's ``base`` for what it does not build."""
    from duck_cli.health.assess import state_of
    from duck_cli.state.snapshot import observe_files

    snap = _merged(project, snap, base)
    return replace(state_of(project, snap, now, observe_files(project, now, snap)), base=base)


def _merged(project: Project, snap, base):
    """An environment's own snapshot, with production's records for the assets it defers."""
    if base is None:
        return snap
    from duck_cli.graph.dag import AssetGraph
    from duck_cli.plan import defer

    _changed, built = defer.to_build(project, AssetGraph.build(project.assets), base)
    return defer.merge(project, base, snap, built)


def state_in(s, now: datetime):
    """What a writing command knows: health from its session's snapshot and the source versions
    it observed under the lock (no second observation, no second DuckDB connection)."""
    from duck_cli.health.assess import state_of

    snap = _merged(s.project, s.snapshot, s.base)
    return replace(state_of(s.project, snap, now, s.live, s.scope), base=s.base)


def _repair(project: Project, env: Env) -> None:
    """Let a reader repair a dead run's leftovers when no writer holds the lock."""
    from duck_cli.run import session

    try:
        with session.session(project, "repair", env.now, wait=0, faults=env.faults):
            pass
    except LockedError:  # a live writer holds it: it will record its own work
        pass


def selected(state, selection: Selection) -> list[str]:
    """The asset names a selection picks, in graph order."""
    from duck_cli.graph.select import select

    return select(state.project.assets, state.graph, selection)


def materialize_plan(state, selection: Selection, partitions: Keys, force: bool,
                     command: str = "materialize"):
    """The plan of `duck materialize` (and of `duck plan`, which shows it)."""
    from duck_cli.plan import builder as planner, defer

    names = selected(state, selection)
    if state.base is not None:  # an environment: build what changed, defer the rest
        if partitions.keys:
            raise UsageError("--partition is not available in an environment",
                             hint="Name the preview's window with --from/--to.")
        return defer.preview(state.project, state.health, state.graph, state.base, names,
                             first=partitions.first, last=partitions.last, force=force,
                             command=command)[0]
    wanted = planner.requested_keys(state.project, state.health, names, list(partitions.keys),
                                    partitions.first, partitions.last) if partitions else None
    return planner.for_materialize(state.project, state.health, state.graph.order, names,
                                   keys=wanted, force=force,
                                   batch_size=state.project.settings.batch_size, command=command)


def wait_of(project: Project, wait: float | None) -> float:
    """--wait, else duck.yaml's wait."""
    return project.settings.wait_seconds if wait is None else wait


def with_jobs(project: Project, jobs: int | None) -> Project:
    """The project with --jobs in place of duck.yaml's jobs, when given."""
    return project if jobs is None else replace(project,
                                                settings=replace(project.settings, jobs=jobs))


def execute(env: Env, project: Project, command: str, make_plan, run: RunOptions,
            as_json: bool, backfill=None, scope=None) -> int:
    """Plan under the write lock, execute exactly that plan, render and report it (with a
    ``scope``, `graph.scope`, looking only at those partitions)."""
    from duck_cli.run import session

    screen = env.screen
    report_target(run.junit_xml)
    with session.session(project, command, env.now, wait=wait_of(project, run.wait),
                         on_wait=lambda info: render.waiting(screen, info), hold_catalog=True,
                         faults=env.faults, per_asset=True, scope=scope) as s:
        state, p = _locked_plan(s, env, make_plan, shares=backfill is not None)
        shared = backfill(s, p) if backfill is not None else None
        events = render.progress(screen, p, enabled=run.progress and not as_json)
        with events:
            result = _run(s, p, state, command, env, events, shared)
    note_build(project, env.now(), s.base)
    render.run_result(screen, result, p, state, as_json)
    ci_reports(env, run, lambda ci, github: ci.for_run(result, project, run.junit_xml, github))
    if result.status == "canceled":
        return ExitCode.TERMINATED if s.terminated else ExitCode.INTERRUPTED
    if not result.results and p.held_back():
        return ExitCode.HELD_BACK
    return ExitCode.FAILED if result.status == "failed" else ExitCode.OK


def _run(s, p, state, command: str, env: Env, events, shared=None):
    """Execute the plan; with nothing to do (not a run: nothing recorded), without importing
    the step runner, the builder and their modules (a quarter of a no-op's imports)."""
    if not p.steps:
        from duck_cli.records import RunStatus
        from duck_cli.run.session import RunResult

        return RunResult(None, RunStatus.SUCCESS, [], s.backfill_id)
    from duck_cli.run import execute as executing

    return executing.run_plan(s, p, state.health, command=command, args=env.args,
                              backfill_id=s.backfill_id, on_event=events.event,
                              shared=shared)


def shares_backfill(s) -> bool:
    """Whether the session's backfill is shared: PostgreSQL state and a DuckLake warehouse (a
    local warehouse file is one process's at a time, so sharing it gains nothing). Here, not
    in `run.shared_backfill`: a no-op must not import the step runner, nor a file-mode
    backfill the PostgreSQL claims."""
    return s.state.mode == "postgres" and bool(getattr(s.wh, "lake", False))


def _locked_plan(s, env: Env, make_plan, shares: bool):
    """Plan, then lock the assets the plan writes (PostgreSQL state: writers on other assets
    go on side by side; the runners of a shared backfill share their locks). A plan made
    before a wait is stale: plan again, and lock what the new plan adds."""
    shared = shares and shares_backfill(s)
    locked: set[str] = set()
    state = state_in(s, env.now())
    p = make_plan(state, s)
    for _ in range(5):  # each round can only add assets; a handful always settles it
        todo = {step.asset for step in p.steps} - locked
        if not todo:
            break
        locked |= todo
        if s.lock_assets(todo, exclusive=not shared,
                         on_wait=lambda info: render.waiting(env.screen, info)):
            s.refresh()
            state = state_in(s, env.now())
            p = make_plan(state, s)
    return state, p


def ci_reports(env: Env, run: RunOptions, write) -> None:
    """JUnit XML and GitHub reports when --junit-xml, --github or GitHub Actions asks for them:
    ``write(ci, github)`` with `report.ci`, which no other run loads."""
    github = env.github(run.github)
    if run.junit_xml is not None or github is not None:
        from duck_cli.report import ci

        write(ci, github)


def plan_summary(env: Env, document: dict, flag: bool) -> None:
    """A plan's document in the GitHub step summary, when --github or GitHub Actions asks."""
    github = env.github(flag)
    if github is not None:
        from duck_cli.report import ci

        ci.plan_summary(document, github)


def report_target(junit: Path | None) -> None:
    """Refuse a --junit-xml path that cannot be written, before anything runs."""
    if junit is not None and junit.is_dir():
        raise UsageError(f"--junit-xml {junit} is a folder", hint=f"Name a file in it, e.g. "
                         f"--junit-xml {junit / 'duck.xml'}; nothing ran.")
