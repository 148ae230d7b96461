"""`duck diff`: its parameters, and its body: open the warehouse read-only, compare, render,
exit 0 (or 3 with --fail-on-diff when anything differs).

The command lives here rather than in `app.py` (which registers it) to keep that module small;
like `app.py`, it imports the heavy parts only when the command runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from duck_cli.cli.options import Target
from duck_cli.cli.params import ExcludeOpt, JsonOpt, ProjectOpt, SelArg, VarOpt

if TYPE_CHECKING:
    from duck_cli.cli.options_more import DiffOptions


def diff(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
         selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
         project: Optional[Path] = ProjectOpt,
         env_name: Optional[str] = typer.Option(None, "--env", envvar="DUCK_ENV",
                                                help="The environment to compare (required)."),
         base: str = typer.Option("prod", "--base", help="What to compare it with."),
         fail_on_diff: bool = typer.Option(False, "--fail-on-diff",
                                           help="Exit 3 when anything differs."),
         github: bool = typer.Option(False, "--github", help="Markdown for the GitHub step "
                                     "summary (stdout when there is none)."),
         json: bool = JsonOpt) -> None:
    """Compare an environment's tables with production's: per asset and partition, rows added,
    removed and changed, columns added, removed or retyped, per-column statistics.

    Example: duck diff zone_metrics --env pr-42
    """
    from duck_cli.cli.options_more import DiffOptions  # only when the command runs

    target = Target(project, tuple(selection or ()), json, tuple(exclude or ()), tuple(var or ()))
    opts = DiffOptions(target, env_name, base, github, fail_on_diff)
    raise typer.Exit(int(run(options=opts, env=ctx.obj)))


def run(*, options: DiffOptions, env) -> int:
    """Compare an environment's tables with the base's; the exit code."""
    from duck_cli.cli.project import open_project
    from duck_cli.errors import ExitCode, UsageError
    from duck_cli.graph.dag import AssetGraph
    from duck_cli.graph.select import select
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
    _render(report, options, env)
    return ExitCode.FAIL_ON if options.fail_on_diff and report.differs else ExitCode.OK


def _render(report, options: DiffOptions, env) -> None:
    """The document, the tables or the Markdown; the step summary when there is one."""
    from duck_cli.report import diff as view, diff_markdown, render

    d = view.diff_doc(report)
    github = env.github(options.github)
    summary = github is not None and github.summary is not None
    if options.target.json:
        render.emit_json(env.screen, d)
    elif options.github and not summary:
        diff_markdown.write(d, None, env.stdout)
    else:
        view.show(env.screen, d)
    if summary:
        diff_markdown.write(d, github, env.stdout)


@contextmanager
def _warehouse(project):
    """The warehouse's connection, read-only (a UsageError when nothing was built yet)."""
    from duck_cli.errors import UsageError
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
