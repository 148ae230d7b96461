"""The body of `duck report --html DIR`: read the state and the catalog's history once, then let
report/html render the site (it never opens DuckDB)."""

from __future__ import annotations

from duck_cli.cli.env import Env
from duck_cli.cli.options_more import ReportOptions
from duck_cli.cli.project import open_project, read_state
from duck_cli.errors import ExitCode, UsageError

RUN_PAGES = 30  # the newest runs get a timeline page each
STEPS_PER_ASSET = 5  # an asset page lists its last steps


def report(*, options: ReportOptions, env: Env) -> int:
    """Write the HTML status report into ``options.html``."""
    from duck_cli.report import render
    from duck_cli.report.html.site import write_site

    if options.html is None:
        raise UsageError("duck report needs --html DIR",
                         hint="e.g. duck report --html site/ (then open site/index.html)")
    project = open_project(options.target, env)
    document = write_site(options.html, _site_data(project, read_state(project, env)))
    if options.target.json:
        render.emit_json(env.screen, document)
    else:
        render.report_written(env.screen, document)
    return ExitCode.OK


def _site_data(project, state):
    """State plus the history the pages show, read in one catalog session."""
    from duck_cli.report.html.site import SiteData
    from duck_cli.state.backends import open_state

    with open_state(project.settings, read_only=True) as c:
        runs, run_steps = c.recent_runs(RUN_PAGES) if c else ([], {})
        asset_steps = c.latest_steps(STEPS_PER_ASSET) if c else {}
        checks = c.check_results() if c else {}
    now = state.health.now
    stamp = f"health at {now.isoformat(timespec='seconds')}"
    return SiteData(state, tuple(runs), run_steps, asset_steps, checks,
                    title=project.root.name, stamp=stamp)
