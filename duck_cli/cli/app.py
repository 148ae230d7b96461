"""The `duck` command line: each command parses options, calls the core, renders, exits.

Only this module meets the outside world (argv, console, exit codes). Heavy imports (duckdb,
jsonschema, rich tables) happen inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from duck_cli.errors import DuckError, ExitCode


class _Group(TyperGroup):
    """Turns every DuckError into one paragraph on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DuckError as err:
            from duck_cli.report import render

            if os.environ.get("DUCK_DEBUG") or "--debug" in sys.argv:
                raise
            render.error(err)
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


app = typer.Typer(cls=_Group, no_args_is_help=True, add_completion=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False)

ProjectOpt = typer.Option(None, "--project", "-p", envvar="DUCK_PROJECT",
                          help="Project folder (default: the current directory).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout.")
SelArg = typer.Argument(None, help="Selection: name, +name, name+, tag:x, owner:x, kind:x, globs.",
                        autocompletion=lambda incomplete: _complete_assets(incomplete))
PartOpt = typer.Option(None, "--partition", help="A partition key (repeatable).",
                       autocompletion=lambda incomplete: _complete_keys(incomplete))
FromOpt = typer.Option(None, "--from", help="First partition key of a range.")
ToOpt = typer.Option(None, "--to", help="Last partition key of a range (inclusive).")
WaitOpt = typer.Option(None, "--wait", min=0, help="Seconds to wait for another writer (default 30).")
JobsOpt = typer.Option(None, "--jobs", "-j", min=1, help="Independent steps run side by side "
                       "(default: duck.yaml's jobs, else the cores, 2 to 4; 1: one by one).")
ProgressOpt = typer.Option(True, "--progress/--no-progress", help="Progress bar on a terminal.")
JunitOpt = typer.Option(None, "--junit-xml", help="Write a JUnit XML report of steps and checks.")
GithubOpt = typer.Option(False, "--github",
                         help="GitHub Actions annotations and step summary (auto in Actions).")


def _print_version(value: bool) -> None:
    if value:
        from duck_cli import __version__

        sys.stdout.write(f"duck {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print duck's version and exit.")) -> None:
    """duck: tracked, checked, fresh and repairable SQL assets in DuckDB.

    Example: duck materialize -p examples/manifests
    """


def _complete_assets(incomplete: str) -> list[str]:
    from duck_cli.cli import commands

    return commands.complete_assets(incomplete)


def _complete_keys(incomplete: str) -> list[str]:
    from duck_cli.cli import commands

    return commands.complete_keys(incomplete)


@app.command()
def validate(project: Optional[Path] = ProjectOpt, json: bool = JsonOpt) -> None:
    """Validate the manifests: schema, names, deps, cycles, SQL; warnings for undeclared reads.

    Example: duck validate -p examples/manifests
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.validate(project, json))


@app.command()
def graph(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
          format: str = typer.Option("tree", "--format", help="tree | mermaid | dot | json"),
          health: bool = typer.Option(False, "--health", help="Colour assets by health."),
          json: bool = JsonOpt) -> None:
    """Show the asset graph (lineage) as a tree, Mermaid, Graphviz dot or JSON.

    Example: duck graph +daily_revenue --format mermaid
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.graph(project, selection or [], "json" if json else format, health))


@app.command()
def plan(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
         partition: Optional[List[str]] = PartOpt, from_: Optional[str] = FromOpt,
         to: Optional[str] = ToOpt,
         force: bool = typer.Option(False, "--force", help="Plan fresh partitions too."),
         fail_on: Optional[str] = typer.Option(None, "--fail-on", help="pending: exit 3 if any work."),
         json: bool = JsonOpt) -> None:
    """Show what `duck materialize` with the same arguments would do, and why.

    Example: duck plan --fail-on pending
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.plan(project, selection or [], partition or [], from_, to, force,
                                   fail_on, json))


@app.command()
def materialize(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
                partition: Optional[List[str]] = PartOpt, from_: Optional[str] = FromOpt,
                to: Optional[str] = ToOpt,
                force: bool = typer.Option(False, "--force", help="Rebuild fresh partitions too."),
                wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
                junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
                json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """Build the selected assets' missing or stale partitions (all of them by default).

    Example: duck materialize +daily_revenue --partition 2026-03-12
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.materialize(project, selection or [], partition or [], from_, to,
                                          force, wait, progress, junit_xml, github, json, jobs))


@app.command()
def backfill(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
             partition: Optional[List[str]] = PartOpt, from_: Optional[str] = FromOpt,
             to: Optional[str] = ToOpt,
             missing: bool = typer.Option(False, "--missing", help="Every missing partition."),
             failed: bool = typer.Option(False, "--failed", help="Every failed partition."),
             downstream: bool = typer.Option(False, "--downstream",
                                             help="Also rebuild the partitions that read them."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan only."),
             batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1,
                                                      help="Adjacent partitions per statement."),
             max_partitions: Optional[int] = typer.Option(None, "--max-partitions", min=1,
                                                          help="Refuse a larger plan."),
             resume: Optional[str] = typer.Option(None, "--resume", help="Finish a backfill."),
             wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
             junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
             json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """Rebuild historical partitions: named keys, a range, the missing or the failed ones.

    Example: duck backfill zone_metrics --from 2026-03-01 --to 2026-03-14 --downstream
    """
    from duck_cli.cli import commands

    opts = commands.BackfillOptions(partition or [], from_, to, missing, failed, downstream,
                                    dry_run, batch_size, max_partitions, resume)
    raise typer.Exit(commands.backfill(project, selection or [], opts, wait, progress, junit_xml,
                                       github, json, jobs))


@app.command()
def backfills(project: Optional[Path] = ProjectOpt, json: bool = JsonOpt) -> None:
    """List recorded backfills with their requested partitions and runs.

    Example: duck backfills --json
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.backfills(project, json))


@app.command()
def status(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
           partitions: bool = typer.Option(False, "--partitions", help="One row per partition."),
           show_all: bool = typer.Option(False, "--all", help="List every asset, even in a "
                                                               "big project."),
           fail_on: Optional[List[str]] = typer.Option(
               None, "--fail-on", help="stale | failed | warn: exit 3 when found (repeatable)."),
           json: bool = JsonOpt) -> None:
    """One row per asset: state, partitions, freshness, checks, blockers, last run.

    Example: duck status --fail-on stale
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.status(project, selection or [], partitions, fail_on or [], json,
                                     show_all))


@app.command()
def why(target: str = typer.Argument(..., help="An asset or data product."),
        project: Optional[Path] = ProjectOpt, partition: Optional[str] = typer.Option(
            None, "--partition", help="Explain one partition."),
        json: bool = JsonOpt) -> None:
    """Explain why an asset or product is stale: root cause and the next action.

    Example: duck why daily_revenue --partition 2026-03-12
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.why(project, target, partition, json))


@app.command()
def reconcile(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
              apply: bool = typer.Option(False, "--apply", help="Execute the plan."),
              retry_failed: bool = typer.Option(False, "--retry-failed",
                                                help="Retry partitions that failed unchanged."),
              wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
              junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
              json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """The smallest set of rebuilds that moves unhealthy assets back to healthy.

    Example: duck reconcile --apply
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.reconcile(project, selection or [], apply, retry_failed, wait,
                                        progress, junit_xml, github, json, jobs))


@app.command()
def check(selection: Optional[List[str]] = SelArg, project: Optional[Path] = ProjectOpt,
          partition: Optional[List[str]] = PartOpt, wait: Optional[float] = WaitOpt,
          junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
          json: bool = JsonOpt) -> None:
    """Run the checks on the published data, without materializing.

    Example: duck check zone_metrics --partition 2026-03-12
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.check(project, selection or [], partition or [], wait, junit_xml,
                                    github, json))


@app.command()
def report(project: Optional[Path] = ProjectOpt,
           html: Optional[Path] = typer.Option(None, "--html", help="Write the HTML status "
                                               "report into this folder (new, or an earlier "
                                               "report's)."),
           json: bool = JsonOpt) -> None:
    """Write a static HTML status report: health, lineage, one page per asset, run timelines.

    No server and no network: open DIR/index.html, or keep DIR as a CI artifact.

    Example: duck report --html site
    """
    from duck_cli.cli import report_html

    raise typer.Exit(report_html.report(project, html, json))


runs_app = typer.Typer(cls=_Group, invoke_without_command=True)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
def runs(ctx: typer.Context, project: Optional[Path] = ProjectOpt,
         limit: int = typer.Option(20, "--limit", min=1, help="How many runs (1 or more)."),
         asset: Optional[str] = typer.Option(None, "--asset", help="Only runs touching it."),
         json: bool = JsonOpt) -> None:
    """List runs, newest first; `duck runs show RUN_ID` for one run's steps and checks.

    Example: duck runs --limit 5
    """
    if ctx.invoked_subcommand is None:
        from duck_cli.cli import commands

        raise typer.Exit(commands.runs(project, limit, asset, json))


@runs_app.command("show")
def runs_show(run_id: str = typer.Argument(..., help="A run id (or a unique prefix)."),
              project: Optional[Path] = ProjectOpt, json: bool = JsonOpt) -> None:
    """Show one run: its steps, partitions, errors and check results.

    Example: duck runs show r00001
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.run_show(project, run_id, json))


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="Where to create the project."),
         json: bool = JsonOpt) -> None:
    """Scaffold a small working project (source data, two assets, a check, freshness).

    Example: duck init my_project && duck materialize -p my_project
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.init(directory, json))


@app.command()
def schema(which: str = typer.Argument("manifest", help="manifest, or a --json document name.")) -> None:
    """Print a JSON Schema: the manifest format (for editors) or a --json document's shape.

    Example: duck schema > manifest.schema.json
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.schema(which))


@app.command()
def prune(project: Optional[Path] = ProjectOpt,
          keep_runs: Optional[int] = typer.Option(None, "--keep-runs", min=0,
                                                  help="Keep the newest N runs."),
          older_than: Optional[str] = typer.Option(None, "--older-than",
                                                   help="Delete runs older than this (e.g. 90d)."),
          wait: Optional[float] = WaitOpt, json: bool = JsonOpt) -> None:
    """Delete old run history; never the current materialization of any partition.

    Example: duck prune --older-than 90d
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.prune(project, keep_runs, older_than, wait, json))


@app.command()
def doctor(project: Optional[Path] = ProjectOpt, wait: Optional[float] = WaitOpt,
           fix: bool = typer.Option(False, "--fix", help="Move a corrupt catalog aside and "
                                    "rebuild it from the warehouse ledger."),
           json: bool = JsonOpt) -> None:
    """Check that the catalog and the warehouse agree (reading every table); repair what a
    dead run left behind.

    Example: duck doctor
    """
    from duck_cli.cli import commands

    raise typer.Exit(commands.doctor(project, wait, json, fix))


def main() -> None:
    """Console-script entry point."""
    import gc

    # A short-lived command allocating hundreds of thousands of small tuples (snapshots, health)
    # spends most of its time in cycle collections that find nothing; raise the bar instead.
    gc.set_threshold(500_000, 50, 50)
    app()
