"""The body of `duck diff`: open the warehouse read-only, compare, render, exit 0 (or 3 with
--fail-on-diff when anything differs)."""

from __future__ import annotations

from contextlib import contextmanager

from duck_cli.cli.env import Env
from duck_cli.cli.options import DiffOptions
from duck_cli.cli.project import open_project
from duck_cli.errors import ExitCode, UsageError
from duck_cli.report import render


def diff(*, options: DiffOptions, env: Env) -> int:
    """Compare an environment's tables with the base's."""
    from duck_cli.graph.dag import AssetGraph
    from duck_cli.graph.select import select
    from duck_cli.report import diff as view, diff_markdown
    from duck_cli.run.diff import diff as compare

    if not options.env:
        raise UsageError("duck diff needs the environment to compare: --env NAME",
                         hint="e.g. `duck diff --env pr-42` (against prod; --base names another).")
    project = open_project(options.target, env)
    names = select(project.assets, AssetGraph.build(project.assets), options.target.selector)
    if not options.target.selection:  # sources are never built in an environment
        names = [n for n in names if not project.assets[n].is_source]
    with _warehouse(project) as con:
        report = compare(con, [project.assets[n] for n in names], options.env, options.base,
                         explicit=bool(options.target.selection))
    d = view.diff_doc(report)
    github = env.github(options.github)
    if options.target.json:
        render.emit_json(env.screen, d)
    elif options.github and not (github and github.summary):
        diff_markdown.write(d, None, env.stdout)
    else:
        view.show(env.screen, d)
    if github is not None and github.summary:
        diff_markdown.write(d, github, env.stdout)
    return ExitCode.FAIL_ON if options.fail_on_diff and report.differs else ExitCode.OK


@contextmanager
def _warehouse(project):
    """The warehouse's connection, read-only (a UsageError when nothing was built yet)."""
    from duck_cli.state.backends import open_warehouse

    settings = project.settings
    if settings.lake is None and not settings.warehouse.exists():
        raise UsageError(f"no warehouse yet at {settings.warehouse}: nothing to compare",
                         hint="Run `duck materialize` first.")
    warehouse = open_warehouse(settings, wait=settings.wait_seconds, read_only=True)
    try:
        yield warehouse.con
    finally:
        warehouse.close()
