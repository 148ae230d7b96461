"""The bodies of the commands that write (runs, checks, history, files): open, call the core,
render, return an exit code. Each takes its options dataclass and the `Env`, by keyword."""

from __future__ import annotations

from typing import TYPE_CHECKING

from duck_cli.cli.env import Env
from duck_cli.cli.options import BackfillOptions, MaterializeOptions
from duck_cli.cli.project import (ci_reports, execute, materialize_plan, open_project,
                                  plan_summary, read_state, report_target, selected,
                                  shares_backfill, wait_of, with_jobs)
from duck_cli.errors import ExitCode, UsageError
from duck_cli.models import Project
from duck_cli.report import render

if TYPE_CHECKING:  # annotations only: the less used commands' options load when one runs
    from duck_cli.cli.options_more import (CheckOptions, DoctorOptions, InitOptions, PruneOptions,
                                           ReconcileOptions)


def materialize(*, options: MaterializeOptions, env: Env) -> int:
    """Plan under the write lock, then execute exactly that plan."""
    project = with_jobs(open_project(options.target, env), options.run.jobs)

    def make_plan(state, s):
        return materialize_plan(state, options.target.selector, options.partitions,
                                options.force)

    keys, scope = options.partitions, None
    if keys:  # like a backfill's: observe and assess only those partitions and what they read
        from duck_cli.plan.backfill import keys_scope

        scope = keys_scope(project, options.target.selector, keys.keys, keys.first, keys.last,
                           env.now())
    return execute(env, project, "materialize", make_plan, options.run, options.target.json,
                   scope=scope)


def backfill(*, options: BackfillOptions, env: Env) -> int:
    """Rebuild requested historical partitions, recorded as a backfill (--dry-run: the plan)."""
    from duck_cli.plan import backfill as bf
    from duck_cli.run.backfill import record as record_backfill

    selection, request = options.target.selector, options.request
    project = with_jobs(open_project(options.target, env), options.run.jobs)
    bf.check_options(selection, request)
    if options.dry_run:
        return _backfill_dry_run(project, options, env)
    resumed: dict = {}  # the backfill --resume names, read once under the lock

    def make_plan(state, s):
        resumed["request"] = _resume_request(project, request.resume, s)
        return bf.make_plan(state, selection, request, resumed["request"])

    def record(s, p):
        if shares_backfill(s):  # runners on other processes share the backfill
            from duck_cli.run import shared_backfill  # PostgreSQL claims: only when shared

            shared = shared_backfill.join(s, p, selection, request, resumed.get("request"),
                                          runner=options.runner, lease=lease_of(env))
            s.backfill_id = shared.backfill_id
            return shared
        s.backfill_id = record_backfill(s, p, selection, request, resumed.get("request"))
        return None

    return execute(env, project, "backfill", make_plan, options.run, options.target.json,
                   backfill=record, scope=bf.scope_of(project, selection, request, env.now()))


def lease_of(env: Env) -> float:
    """A shared backfill's lease: DUCK_LEASE_SECONDS, else 30 seconds."""
    from duck_cli.run.shared_backfill import LEASE_SECONDS

    text = env.environ.get("DUCK_LEASE_SECONDS", "").strip()
    if not text:
        return LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 86400:
        raise UsageError(f"DUCK_LEASE_SECONDS is '{text}', not a number of seconds above 0",
                         hint="e.g. DUCK_LEASE_SECONDS=30 (how long a dead runner's claims "
                         "stay its own)")
    return value


def _backfill_dry_run(project: Project, options: BackfillOptions, env: Env) -> int:
    """Render the backfill's plan without taking the write lock."""
    from duck_cli.plan import backfill as bf

    from duck_cli.report import render_read

    state = read_state(project, env)
    resume = _resume_request(project, options.request.resume)
    p = bf.make_plan(state, options.target.selector, options.request, resume)
    render_read.plan(env.screen, p, state, options.target.json)
    return ExitCode.OK


def _resume_request(project: Project, resume: str | None, s=None):
    """The backfill --resume names (read through the session's catalog when in one)."""
    if not resume:
        return None
    from duck_cli.state.backends import open_state

    with (s.catalog() if s is not None else open_state(project.settings, read_only=True)) as c:
        found = c.backfills(resume) if c else []
    if len(found) != 1:
        raise UsageError(f"no backfill '{resume}'" if not found else
                         f"'{resume}' matches several backfills",
                         hint="Run `duck backfills` to list them.")
    return found[0]


def reconcile(*, options: ReconcileOptions, env: Env) -> int:
    """Plan (and with --apply, run) the smallest recovery."""
    from duck_cli.plan import builder as planner, defer

    project = with_jobs(open_project(options.target, env), options.run.jobs)

    def make_plan(state, s=None):
        if state.base is not None:  # an environment: what it builds, within its window
            return defer.reconcile(state, selected(state, options.target.selector),
                                   retry_failed=options.retry_failed)
        return planner.for_reconcile(state.project, state.health, state.graph.order,
                                     selected(state, options.target.selector),
                                     retry_failed=options.retry_failed,
                                     batch_size=state.project.settings.batch_size)

    if not options.apply:
        state = read_state(project, env)
        from duck_cli.report import render_read

        document = render_read.plan(env.screen, make_plan(state), state, options.target.json)
        plan_summary(env, document, options.run.github)
        return ExitCode.OK
    return execute(env, project, "reconcile", make_plan, options.run, options.target.json)


def check(*, options: CheckOptions, env: Env) -> int:
    """Run the checks on published data; exit 1 when a blocking check fails."""
    from duck_cli.plan import defer
    from duck_cli.run import audit

    report_target(options.run.junit_xml)
    project = open_project(options.target, env)
    state = read_state(project, env)
    names = selected(state, options.target.selector)
    built = defer.built_of(state)  # an environment checks its own tables, not production's
    names = [n for n in names if built is None or n in built]
    results = audit.check_published(state, names, list(options.partitions.keys), env.now(),
                                    wait=wait_of(project, options.run.wait), faults=env.faults)
    render.check_results(env.screen, results, options.target.json)
    ci_reports(env, options.run,
               lambda ci, github: ci.for_checks(results, project, options.run.junit_xml, github))
    return ExitCode.FAILED if any(r.blocking for _a, _k, r in results) else ExitCode.OK


def prune(*, options: PruneOptions, env: Env) -> int:
    """Delete old run history under the write lock."""
    from duck_cli.state.backends import open_state, write_lock
    from duck_cli.state.lake import housekeep

    from duck_cli.cli.env_commands import prune_environments

    history = options.keep_runs is not None or options.older_than is not None
    if not (history or options.envs):
        raise UsageError("prune needs --keep-runs N or --older-than AGE (or --envs)",
                         hint="e.g. --older-than 90d; both also drop environments older than "
                         "env_retention_days, --envs drops only those.")
    project = open_project(options.target, env)
    cutoff, wait = _cutoff(options.older_than, env), wait_of(project, options.wait)
    counts, lake_counts = {}, None
    with write_lock(project.settings, "prune", wait=wait, now=env.now(),
                    on_wait=lambda info: render.waiting(env.screen, info)):
        if history:  # --envs alone: only the environments
            with open_state(project.settings, read_only=False, wait=wait) as c:
                counts = c.prune(options.keep_runs, cutoff, dry_run=options.dry_run)
            lake_counts = None if options.dry_run else housekeep(project.settings, wait=wait)
        dropped = prune_environments(project, env, options.dry_run, wait)
    render.pruned(env.screen, counts, options.target.json, options.dry_run, lake_counts,
                  (dropped, project.settings.env_retention_days))
    return ExitCode.OK


def _cutoff(older_than: str | None, env: Env):
    """The time before which --older-than deletes runs (None: no age limit)."""
    from duck_cli.manifest.values import parse_duration

    if not older_than:
        return None
    try:
        return env.now() - parse_duration(older_than)
    except ValueError:  # its message repeats the value: say it once
        raise UsageError(f"--older-than {older_than!r} is not a duration",
                         hint="Write it like 90d, 12h or 2w.") from None


def doctor(*, options: DoctorOptions, env: Env) -> int:
    """Repair and report consistency between catalog and warehouse."""
    from duck_cli.run import doctor as doc

    project = open_project(options.target, env)
    report = doc.run(project, env.now, wait=wait_of(project, options.wait), fix=options.fix,
                     faults=env.faults, environ=env.environ)
    render.doctor(env.screen, report, options.target.json)
    return ExitCode.OK if report.ok else ExitCode.FAILED


def init(*, options: InitOptions, env: Env) -> int:
    """Scaffold a small working project."""
    from duck_cli.cli import scaffold

    written = scaffold.init(options.directory)
    render.init_done(env.screen, options.directory, written, options.json)
    return ExitCode.OK
