"""The bodies of the `duck` commands: load, call the core, render, return an exit code.

`cli.py` declares the options; this module walks each command down the pipeline once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from duck_cli.report import render
from duck_cli.errors import ExitCode, UsageError
from duck_cli.models import Project


def _project(path: Path | None) -> Project:
    from duck_cli.graph.partitions import check_counts
    from duck_cli.manifest.settings import find_root
    from duck_cli.manifest.load import load_project

    project = load_project(find_root(path))
    check_counts(project.assets.values(), _now(), project.settings.max_partitions)
    return project


def _now() -> datetime:
    from duck_cli.manifest.settings import clock

    return clock(os.environ)


def _state(project: Project, now: datetime):
    """Health from one snapshot; first repair what a dead writer left behind, if anything."""
    from duck_cli.state.lock import is_locked
    from duck_cli.state.snapshot import dead_runs, read_snapshot, unrecorded_marker

    from duck_cli.state.held import reader_check

    snap = read_snapshot(project)
    state_dir = project.settings.catalog.parent
    if dead_runs(snap) or (unrecorded_marker(project.settings).exists()
                           and not is_locked(state_dir)):
        _repair(project)
        snap = read_snapshot(project)
    snap = reader_check(project, snap, locked=is_locked(state_dir))
    return _load_state(project, now, snap)


def _load_state(project: Project, now: datetime, snap):
    """What a command knows: health from one snapshot and the live source observations."""
    from duck_cli.health.assess import state_of
    from duck_cli.state.snapshot import observe_files

    return state_of(project, snap, now, observe_files(project, now))


def _repair(project: Project) -> None:
    """Let a reader repair a dead run's leftovers when no writer holds the lock."""
    from duck_cli.errors import LockedError
    from duck_cli.run import session

    try:
        with session.session(project, "repair", _now, wait=0):
            pass
    except LockedError:  # a live writer holds it: it will record its own work
        pass


def _selected(state, selection: list[str]) -> list[str]:
    from duck_cli.graph.select import select

    return select(state.project.assets, state.graph, selection)


def _wait(project: Project, wait: float | None) -> float:
    return project.settings.wait_seconds if wait is None else wait


# -- validate, graph ----------------------------------------------------------------------


def validate(path: Path | None, as_json: bool) -> int:
    """Validate the manifests; warnings do not fail."""
    from duck_cli.errors import ManifestError

    try:
        project = _project(path)
    except ManifestError as err:
        if not as_json:
            raise
        render.emit_json(render.validate_doc(None, err.problems()))
        return ExitCode.INVALID
    if as_json:
        render.emit_json(render.validate_doc(project, list(project.warnings)))
    else:
        render.validate_report(project)
    return ExitCode.OK


def graph(path: Path | None, selection: list[str], fmt: str, with_health: bool) -> int:
    """Render the lineage of the selection."""
    project = _project(path)
    state = _state(project, _now()) if with_health or fmt == "json" else None
    if state is None:
        from duck_cli.graph.dag import AssetGraph
        from duck_cli.graph.select import select

        g = AssetGraph.build(project.assets)
        names = select(project.assets, g, selection)
    else:
        g, names = state.graph, _selected(state, selection)
    render.graph(project, g, names, fmt, state.health if state else None)
    return ExitCode.OK


# -- plan, materialize -------------------------------------------------------------------


def _materialize_plan(state, selection, keys, first, last, force, command="materialize"):
    from duck_cli.plan import builder as planner

    names = _selected(state, selection)
    wanted = planner.requested_keys(state.project, state.health, names, keys, first, last) \
        if (keys or first or last) else None
    return planner.for_materialize(state.project, state.health, state.graph.order, names,
                                   keys=wanted, force=force,
                                   batch_size=state.project.settings.batch_size, command=command)


def plan(path, selection, keys, first, last, force, fail_on, as_json) -> int:
    """Show what materialize would do."""
    if fail_on not in (None, "pending"):
        raise UsageError(f"--fail-on {fail_on} is not known for plan", hint="Use --fail-on pending.")
    project = _project(path)
    state = _state(project, _now())
    p = _materialize_plan(state, selection, keys, first, last, force, "plan")
    render.plan(p, state, as_json)
    return ExitCode.FAIL_ON if fail_on and p.steps else ExitCode.OK


def materialize(path, selection, keys, first, last, force, wait, progress, junit, github,
                as_json, jobs=None) -> int:
    """Plan under the write lock, then execute exactly that plan."""
    project = _with_jobs(_project(path), jobs)

    def make_plan(state, s):
        return _materialize_plan(state, selection, keys, first, last, force)

    return _execute(project, "materialize", make_plan, wait, progress, junit, github, as_json)


def _with_jobs(project: Project, jobs: int | None) -> Project:
    """The project with --jobs in place of duck.yaml's jobs, when given."""
    from dataclasses import replace

    return project if jobs is None else replace(project,
                                                settings=replace(project.settings, jobs=jobs))


def _execute(project, command, make_plan, wait, progress, junit, github, as_json,
             backfill=None) -> int:
    from duck_cli.run import execute, session

    _report_target(junit)
    with session.session(project, command, _now, wait=_wait(project, wait),
                         on_wait=render.waiting, hold_catalog=True) as s:
        state = _load_state(project, _now(), s.snapshot)
        p = make_plan(state, s)
        if backfill is not None:
            backfill(s, p)
        events = render.progress(p, enabled=progress and not as_json)
        with events:
            result = execute.run_plan(s, p, state.health, command=command, args=_args(),
                                      backfill_id=s.backfill_id,
                                      on_event=events.event)
    render.run_result(result, p, state, as_json)
    render.reports(result, project, junit, github)
    if result.status == "canceled":
        return ExitCode.TERMINATED if s.terminated else ExitCode.INTERRUPTED
    return ExitCode.FAILED if result.status == "failed" else ExitCode.OK


def _report_target(junit: Path | None) -> None:
    """Refuse a --junit-xml path that cannot be written, before anything runs."""
    if junit is not None and junit.is_dir():
        raise UsageError(f"--junit-xml {junit} is a folder", hint=f"Name a file in it, e.g. "
                         f"--junit-xml {junit / 'duck.xml'}; nothing ran.")


def _args() -> str:
    import sys

    return " ".join(sys.argv[1:])


# -- backfill ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillOptions:
    """What `duck backfill` was asked for."""

    keys: list[str]
    first: str | None
    last: str | None
    missing: bool
    failed: bool
    downstream: bool
    dry_run: bool
    batch_size: int | None
    max_partitions: int | None
    resume: str | None


def backfill(path, selection, opts: BackfillOptions, wait, progress, junit, github,
             as_json, jobs=None) -> int:
    """Rebuild requested historical partitions, recorded as a backfill."""
    from duck_cli.plan import backfill as bf
    from duck_cli.run.backfill import record as record_backfill

    project = _with_jobs(_project(path), jobs)
    bf.check_options(selection, opts)
    if opts.dry_run:
        state = _state(project, _now())
        p = bf.make_plan(state, selection, opts, _resume_request(project, opts))
        render.plan(p, state, as_json)
        return ExitCode.OK

    resumed: dict = {}  # the backfill --resume names, read once under the lock

    def make_plan(state, s):
        resumed["request"] = _resume_request(project, opts, s)
        return bf.make_plan(state, selection, opts, resumed["request"])

    def record(s, p):
        s.backfill_id = record_backfill(s, p, selection, opts, resumed.get("request"))

    return _execute(project, "backfill", make_plan, wait, progress, junit, github, as_json,
                    backfill=record)


def _resume_request(project: Project, opts: BackfillOptions, s=None):
    """The backfill --resume names (read through the session's catalog when in one)."""
    if not opts.resume:
        return None
    from duck_cli.state.catalog import open_catalog

    with (s.catalog() if s is not None else open_catalog(
            project.settings.catalog, read_only=True, wait=project.settings.wait_seconds)) as c:
        found = c.backfills(opts.resume) if c else []
    if len(found) != 1:
        raise UsageError(f"no backfill '{opts.resume}'" if not found else
                         f"'{opts.resume}' matches several backfills",
                         hint="Run `duck backfills` to list them.")
    return found[0]


def backfills(path, as_json) -> int:
    """List backfills."""
    from duck_cli.state.catalog import open_catalog

    project = _project(path)
    with open_catalog(project.settings.catalog, read_only=True, wait=project.settings.wait_seconds) as c:
        rows = c.backfills() if c else []
    render.backfills(rows, project, as_json)
    return ExitCode.OK


# -- status, why, reconcile, check ----------------------------------------------------------


def status(path, selection, partitions, fail_on, as_json, show_all: bool = False) -> int:
    """Report health; exit 3 when --fail-on finds what it names."""
    from duck_cli.health.state import FAIL_ON
    from duck_cli.health.status import status_report

    bad = [f for f in fail_on if f not in FAIL_ON]
    if bad:
        raise UsageError(f"--fail-on {bad[0]} is not known", hint="Use stale, failed or warn.")
    project = _project(path)
    state = _state(project, _now())
    names = _selected(state, selection)
    if partitions and len(names) != 1:
        raise UsageError("--partitions shows one asset", hint="Name exactly one asset.")
    report = status_report(state, names)
    render.status(report, partitions, as_json, show_all)
    return ExitCode.FAIL_ON if report.fails_on(fail_on) else ExitCode.OK


def why(path, target, key, as_json) -> int:
    """Explain an asset's or product's health."""
    from duck_cli.health.why import why as explain

    project = _project(path)
    state = _state(project, _now())
    report = explain(state, target, key)
    render.why(report, as_json)
    return ExitCode.OK


def reconcile(path, selection, apply, retry_failed, wait, progress, junit, github,
              as_json, jobs=None) -> int:
    """Plan (and with --apply, run) the smallest recovery."""
    from duck_cli.plan import builder as planner

    project = _with_jobs(_project(path), jobs)

    def make_plan(state, s=None):
        return planner.for_reconcile(state.project, state.health, state.graph.order,
                                     _selected(state, selection), retry_failed=retry_failed,
                                     batch_size=state.project.settings.batch_size)

    if not apply:
        state = _state(project, _now())
        render.plan(make_plan(state), state, as_json)
        return ExitCode.OK
    return _execute(project, "reconcile", make_plan, wait, progress, junit, github, as_json)


def check(path, selection, keys, wait, junit, github, as_json) -> int:
    """Run checks on published data."""
    from duck_cli.run import audit

    _report_target(junit)
    project = _project(path)
    state = _state(project, _now())
    names = _selected(state, selection)
    results = audit.check_published(state, names, keys, _now(), wait=_wait(project, wait))
    render.check_results(results, as_json)
    render.check_reports(results, project, junit, github)
    return ExitCode.FAILED if any(r.blocking for _a, _k, r in results) else ExitCode.OK


# -- runs, init, schema, prune, doctor ------------------------------------------------------


def runs(path, limit, asset, as_json) -> int:
    """List runs."""
    from duck_cli.state.catalog import open_catalog

    project = _project(path)
    with open_catalog(project.settings.catalog, read_only=True, wait=project.settings.wait_seconds) as c:
        rows = c.runs(limit, asset) if c else []
    if asset and asset not in project.assets and not rows:
        from duck_cli.errors import did_you_mean

        raise UsageError(f"unknown asset '{asset}'", hint=did_you_mean(asset, project.assets)
                         or "Run `duck status` to list the assets.")
    render.runs(rows, as_json)
    return ExitCode.OK


def run_show(path, run_id, as_json) -> int:
    """Show one run."""
    from duck_cli.state.catalog import open_catalog

    project = _project(path)
    with open_catalog(project.settings.catalog, read_only=True, wait=project.settings.wait_seconds) as c:
        run = c.run(run_id) if c else None
        if run is None:
            raise UsageError(f"no run '{run_id}'", hint="Run `duck runs` to list run ids.")
        steps, checks = c.steps(run.run_id), c.run_checks(run.run_id)
    render.run_detail(run, steps, checks, as_json)
    return ExitCode.OK


def init(directory: Path, as_json: bool) -> int:
    """Scaffold a project."""
    from duck_cli.cli import scaffold

    written = scaffold.init(directory)
    render.init_done(directory, written, as_json)
    return ExitCode.OK


def schema(which: str) -> int:
    """Print a JSON Schema."""
    from importlib.resources import files

    folder = files("duck_cli.schemas")
    names = sorted(p.name.split(".")[0] for p in folder.iterdir()
                   if p.name.endswith(".schema.json"))
    if which not in names:  # only the documented names: never a path
        from duck_cli.errors import did_you_mean

        raise UsageError(f"no schema named '{which}'",
                         hint=f"{did_you_mean(which, names) or ''} Known: {', '.join(names)}."
                         .lstrip())
    res = folder / f"{which}.schema.json"
    print(res.read_text(), end="")
    return ExitCode.OK


def prune(path, keep_runs, older_than, wait, as_json) -> int:
    """Delete old run history."""
    from duck_cli.state.catalog import open_catalog
    from duck_cli.state.lock import write_lock
    from duck_cli.state.prune import prune_history
    from duck_cli.manifest.values import parse_duration

    if keep_runs is None and older_than is None:
        raise UsageError("prune needs --keep-runs N or --older-than AGE", hint="e.g. --older-than 90d")
    project = _project(path)
    try:
        cutoff = _now() - parse_duration(older_than) if older_than else None
    except ValueError as err:
        raise UsageError(f"--older-than {older_than!r} is not a duration ({err})",
                         hint="Write it like 90d, 12h or 2w.") from None
    with write_lock(project.settings.catalog.parent, "prune", wait=_wait(project, wait),
                            now=_now(), on_wait=render.waiting):
        with open_catalog(project.settings.catalog, read_only=False,
                          wait=_wait(project, wait)) as c:
            counts = prune_history(c, keep_runs, cutoff)
    render.pruned(counts, as_json)
    return ExitCode.OK


def doctor(path, wait, as_json, fix: bool = False) -> int:
    """Repair and report consistency between catalog and warehouse."""
    from duck_cli.run import doctor as doc

    project = _project(path)
    report = doc.run(project, _now, wait=_wait(project, wait), fix=fix)
    render.doctor(report, as_json)
    return ExitCode.OK if report.ok else ExitCode.FAILED


# -- completion ------------------------------------------------------------------------------


def complete_assets(incomplete: str) -> list[str]:
    """Asset names for shell completion (from the manifests in the current project)."""
    try:
        project = _project(None)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []
    return [n for n in project.assets if n.startswith(incomplete.lstrip("+"))]


def complete_keys(incomplete: str) -> list[str]:
    """Partition keys for shell completion (every key of every partitioned asset)."""
    from duck_cli.graph import partitions as parts

    try:
        project = _project(None)
    except Exception:  # noqa: BLE001
        return []
    now, keys = _now(), set()
    for asset in project.assets.values():
        if asset.partitions is not None:
            keys.update(parts.partition_keys(asset.partitions, now))
    return sorted(k for k in keys if k.startswith(incomplete))[:200]
