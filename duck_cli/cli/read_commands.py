"""The bodies of the commands that only read: open, call the core, render, return an exit code.

Each takes its options dataclass and the invocation's `Env`, by keyword (see `app.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duck_cli.cli.env import Env
from duck_cli.cli.options_read import PlanOptions, StatusOptions, ValidateOptions
from duck_cli.cli.project import (materialize_plan, open_project, plan_summary, read_state,
                                  selected)
from duck_cli.errors import ExitCode, ManifestError, UsageError
from duck_cli.records import RunStatus
from duck_cli.report import render, render_read

from duck_cli.health.state import FAIL_ON  # what status --fail-on may name

if TYPE_CHECKING:  # annotations only: the less used commands' options load when one runs
    from duck_cli.cli.options_more import (BackfillsOptions, GraphOptions, RunShowOptions,
                                           RunsOptions, SchemaOptions, WhyOptions)


def validate(*, options: ValidateOptions, env: Env) -> int:
    """Validate the manifests; warnings do not fail (with --json, invalid is a document too)."""
    try:
        project = _with_contracts(open_project(options.target, env))
    except ManifestError as err:
        if not options.target.json:
            raise
        render.emit_json(env.screen, render.validate_doc(None, err.problems(), err))
        render.error(env.screen, err)
        return ExitCode.INVALID
    if options.target.json:
        render.emit_json(env.screen, render.validate_doc(project, list(project.warnings)))
    else:
        render.validate_report(env.screen, project)
    return ExitCode.OK


def _with_contracts(project):
    """The project, its warnings extended by contracts it cannot check yet; ManifestError for
    a contract its SQL drifts from."""
    from dataclasses import replace

    from duck_cli.run.contracts import validate_contracts

    found = validate_contracts(project)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise ManifestError(errors)
    return replace(project, warnings=project.warnings + tuple(found)) if found else project


def graph(*, options: GraphOptions, env: Env) -> int:
    """Render the lineage of the selection."""
    project = open_project(options.target, env)
    if options.health or options.format == "json":
        state = read_state(project, env)
        g, names, health = state.graph, selected(state, options.target.selector), state.health
    else:
        from duck_cli.graph.dag import AssetGraph
        from duck_cli.graph.select import select

        g, health = AssetGraph.build(project.assets), None
        names = select(project.assets, g, options.target.selector)
    render_read.graph(env.screen, project, g, names, options.format, health)
    return ExitCode.OK


def plan(*, options: PlanOptions, env: Env) -> int:
    """Show what materialize would do; --fail-on pending exits 3 when there is work."""
    if options.fail_on not in (None, "pending"):
        raise UsageError(f"--fail-on {options.fail_on} is not known for plan",
                         hint="Use --fail-on pending.")
    state = read_state(open_project(options.target, env), env)
    p = materialize_plan(state, options.target.selector, options.partitions, options.force,
                         "plan")
    document = render_read.plan(env.screen, p, state, options.target.json, options.show_all)
    plan_summary(env, document, options.github)
    return ExitCode.FAIL_ON if options.fail_on and p.steps else ExitCode.OK


def status(*, options: StatusOptions, env: Env) -> int:
    """Report health; exit 3 when --fail-on finds what it names."""
    from duck_cli.health.status import status_report

    bad = [f for f in options.fail_on if f not in FAIL_ON]
    if bad:
        raise UsageError(f"--fail-on {bad[0]} is not known", hint="Use stale, failed or warn.")
    state = read_state(open_project(options.target, env), env)
    names = selected(state, options.target.selector)
    if options.partitions and len(names) != 1:
        raise UsageError("--partitions shows one asset", hint="Name exactly one asset.")
    report = status_report(state, names)
    render_read.status(env.screen, report, options.partitions, options.target.json,
                       options.show_all)
    return ExitCode.FAIL_ON if report.fails_on(list(options.fail_on)) else ExitCode.OK


def why(*, options: WhyOptions, env: Env) -> int:
    """Explain an asset's or product's health."""
    from duck_cli.health.why import why as explain

    project = open_project(options.target, env)
    state = read_state(project, env)
    report = explain(state, options.name, options.partition)
    render_read.why(env.screen, report, options.target.json,
                    _lake_snapshot(project, options.name))
    return ExitCode.OK


def _lake_snapshot(project, name: str) -> int | None:
    """In lake mode, the lake snapshot of an asset's latest publish (None otherwise)."""
    from duck_cli.state.backends import open_state

    if not project.settings.lake or name not in project.assets:
        return None
    with open_state(project.settings, read_only=True) as c:
        found = c.lake_snapshots(asset=name) if c else {}
    return max(found.values(), default=None)


def runs(*, options: RunsOptions, env: Env) -> int:
    """List runs, newest first."""
    from duck_cli.state.backends import open_state

    project = open_project(options.target, env)
    with open_state(project.settings, read_only=True) as c:
        rows = c.runs(options.limit, options.asset) if c else []
    if options.asset and options.asset not in project.assets and not rows:
        from duck_cli.errors import did_you_mean

        raise UsageError(f"unknown asset '{options.asset}'",
                         hint=did_you_mean(options.asset, project.assets)
                         or "Run `duck status` to list the assets.")
    source = options.asset in project.assets and project.assets[options.asset].is_source
    render.runs(env.screen, rows, options.target.json, options.asset, source)
    return ExitCode.OK


def run_show(*, options: RunShowOptions, env: Env) -> int:
    """Show one run with its steps and checks."""
    from duck_cli.state.backends import open_state

    project = open_project(options.target, env)
    with open_state(project.settings, read_only=True) as c:
        run = c.run(options.run_id) if c else None
        if run is None:
            raise UsageError(f"no run '{options.run_id}'",
                             hint="Run `duck runs` to list run ids.")
        steps, checks = c.steps(run.run_id), c.run_checks(run.run_id)
        snapshots = {step: snap for (_r, step), snap in c.lake_snapshots(run.run_id).items()}
    render.run_detail(env.screen, run, steps, checks, options.target.json, snapshots)
    return ExitCode.OK


def backfills(*, options: BackfillsOptions, env: Env) -> int:
    """List recorded backfills."""
    from duck_cli.state.backends import open_state

    project = open_project(options.target, env)
    with open_state(project.settings, read_only=True) as c:
        rows = c.backfills() if c else []
        built = {r.backfill_id: _built(c, r.run_ids) for r in rows}
        # a backfill shared by several runners: who built what (PostgreSQL state only)
        runners = c.runners([r.backfill_id for r in rows]) if hasattr(c, "runners") else {}
    render.backfills(env.screen, rows, project, options.target.json, built, runners)
    return ExitCode.OK


def _built(c, run_ids) -> set[tuple[str, str]]:
    """The (asset, key) pairs a backfill's runs built successfully."""
    return {(s.asset, k) for run_id in run_ids if run_id for s in c.steps(run_id)
            if s.status == RunStatus.SUCCESS for k in (s.partitions or [""])}


def schema(*, options: SchemaOptions, env: Env) -> int:
    """Print a JSON Schema: the manifest's, or a --json document's."""
    from importlib.resources import files

    folder = files("duck_cli.schemas")
    names = sorted(p.name.split(".")[0] for p in folder.iterdir()
                   if p.name.endswith(".schema.json"))
    if options.which not in names:  # only the documented names: never a path
        from duck_cli.errors import did_you_mean

        raise UsageError(f"no schema named '{options.which}'",
                         hint=f"{did_you_mean(options.which, names) or ''} "
                              f"Known: {', '.join(names)}.".lstrip())
    res = folder / f"{options.which}.schema.json"
    env.stdout.write(res.read_text())
    return ExitCode.OK
