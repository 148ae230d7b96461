"""The `duck` command line: each command parses options, calls the core, renders, exits.

Only `cli/` meets the outside world (argv, console, environment, exit codes): the root group
(`cli/group.py`) builds one `Env` per invocation and renders every error; each command below
fills its options dataclass and hands it, with the Env, to its body in `read_commands` or
`write_commands`. Heavy imports (duckdb, jsonschema, rich tables) happen inside the bodies.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, NoReturn, Optional

import typer

from duck_cli.cli import options as o, params as pm
from duck_cli.cli.group import RootGroup
from duck_cli.cli.params import (VarOpt, EnvOpt, ExcludeOpt, FromOpt, GithubOpt, JobsOpt, JsonOpt, JunitOpt,
                                 PartOpt, ProgressOpt, ProjectOpt, SelArg, ToOpt, WaitOpt)


class DuckGroup(RootGroup):
    """`duck`: the less used commands and groups load their module only when named (or when
    every command is listed): a writing command imports neither `duck diff` nor `duck env`."""

    lazy = (("diff", "duck_cli.cli.diff:diff", "check"),  # its parameters and body: cli/diff.py
            ("promote", "duck_cli.cli.env_commands:promote_command", "doctor"),
            ("migrate", "duck_cli.cli.migrate_command:migrate_command", "promote"),
            ("env", "duck_cli.cli.env_commands:env_app", "runs"))


app = typer.Typer(cls=DuckGroup, no_args_is_help=True, add_completion=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False)

# -- from the parsed command line to the options dataclasses -----------------------------------


def _done(code: int) -> NoReturn:
    """Exit with the command body's exit code."""
    raise typer.Exit(int(code))


def _target(ctx: typer.Context, project: Optional[Path], selection: Optional[List[str]] = None,
            json: bool = False, exclude: Optional[List[str]] = None,
            var: Optional[List[str]] = None) -> o.Target:
    env_name = ctx.params.get("env_name")  # --env / DUCK_ENV
    return o.Target(project, tuple(selection or ()), json, tuple(exclude or ()), tuple(var or ()),
                    env_name)


def _keys(partition: Optional[List[str]], first: Optional[str] = None,
          last: Optional[str] = None) -> o.Keys:
    return o.Keys(tuple(partition or ()), first, last)


def _print_version(value: bool) -> None:
    if value:
        from duck_cli import __version__

        typer.echo(f"duck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),  # see RootGroup
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print duck's version and exit.")) -> None:
    """duck: tracked, checked, fresh and repairable SQL assets in DuckDB.

    Example: duck materialize -p examples/manifests
    """
    # --debug is read by RootGroup.invoke, which builds the Env before this callback runs


@app.command()
def validate(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
             project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt, json: bool = JsonOpt) -> None:
    """Validate the manifests: schema, names, deps, cycles, SQL; warnings for undeclared reads.

    Example: duck validate -p examples/manifests
    """
    from duck_cli.cli import read_commands as read

    _done(read.validate(options=o.ValidateOptions(_target(ctx, project, json=json, var=var)), env=ctx.obj))


@app.command()
def graph(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
          selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
          project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
          format: str = typer.Option("tree", "--format", help="tree | mermaid | dot | json",
                                     autocompletion=pm.choices("tree", "mermaid", "dot", "json")),
          health: bool = typer.Option(False, "--health", help="Colour assets by health."),
          json: bool = JsonOpt) -> None:
    """Show the asset graph (lineage) as a tree, Mermaid, Graphviz dot or JSON.

    Example: duck graph +daily_revenue --format mermaid
    """
    from duck_cli.cli import read_commands as read

    opts = o.GraphOptions(_target(ctx, project, selection, json, exclude, var), "json" if json else format,
                          health)
    _done(read.graph(options=opts, env=ctx.obj))


@app.command()
def plan(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
         selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
         project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
         partition: Optional[List[str]] = PartOpt, from_: Optional[str] = FromOpt,
         to: Optional[str] = ToOpt,
         force: bool = typer.Option(False, "--force", help="Plan fresh partitions too."),
         fail_on: Optional[str] = typer.Option(None, "--fail-on",
                                               help="pending: exit 3 if any work.",
                                               autocompletion=pm.choices("pending")),
         github: bool = typer.Option(False, "--github", help="Write the plan to the GitHub "
                                     "step summary (auto in Actions)."),
         show_all: bool = typer.Option(False, "--all", help="List every step, even in a big "
                                                             "plan."),
         json: bool = JsonOpt) -> None:
    """Show what `duck materialize` with the same arguments would do, and why.

    Example: duck plan --fail-on pending
    """
    from duck_cli.cli import read_commands as read

    opts = o.PlanOptions(_target(ctx, project, selection, json, exclude, var), _keys(partition, from_, to),
                         force, fail_on, github, show_all)
    _done(read.plan(options=opts, env=ctx.obj))


@app.command()
def materialize(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
                selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
                project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
                partition: Optional[List[str]] = PartOpt, from_: Optional[str] = FromOpt,
                to: Optional[str] = ToOpt,
                force: bool = typer.Option(False, "--force", help="Rebuild fresh partitions too."),
                wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
                junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
                json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """Build the selected assets' missing or stale partitions (all of them by default).

    Example: duck materialize +daily_revenue --partition 2026-03-12
    """
    from duck_cli.cli import write_commands as write

    opts = o.MaterializeOptions(_target(ctx, project, selection, json, exclude, var),
                                _keys(partition, from_, to), force,
                                o.RunOptions(wait, jobs, progress, junit_xml, github))
    _done(write.materialize(options=opts, env=ctx.obj))


@app.command()
def backfill(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
             selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
             project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
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
             resume: Optional[str] = typer.Option(None, "--resume", help="Finish a backfill.",
                                                  autocompletion=pm.backfills),
             runner: Optional[str] = typer.Option(
                 None, "--runner", help="This runner's name in a backfill shared by several "
                 "(PostgreSQL state and DuckLake; default host:pid)."),
             wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
             junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
             json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """Rebuild historical partitions: named keys, a range, the missing or the failed ones.

    Example: duck backfill zone_metrics --from 2026-03-01 --to 2026-03-14 --downstream
    """
    from duck_cli.cli import write_commands as write

    request = o.BackfillRequest(_keys(partition, from_, to), missing, failed, downstream,
                                batch_size, max_partitions, resume)
    opts = o.BackfillOptions(_target(ctx, project, selection, json, exclude, var), request, dry_run,
                             o.RunOptions(wait, jobs, progress, junit_xml, github), runner)
    _done(write.backfill(options=opts, env=ctx.obj))


@app.command()
def backfills(ctx: typer.Context,
              project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt, json: bool = JsonOpt) -> None:
    """List recorded backfills with their requested partitions and runs.

    Example: duck backfills --json
    """
    from duck_cli.cli import read_commands as read

    _done(read.backfills(options=o.BackfillsOptions(_target(ctx, project, json=json)), env=ctx.obj))


@app.command()
def status(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
           selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
           project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
           partitions: bool = typer.Option(False, "--partitions", help="One row per partition."),
           show_all: bool = typer.Option(False, "--all", help="List every asset, even in a "
                                                               "big project."),
           fail_on: Optional[List[str]] = typer.Option(
               None, "--fail-on", help="stale | failed | warn: exit 3 when found (repeatable).",
               autocompletion=pm.choices("stale", "failed", "warn")),
           json: bool = JsonOpt) -> None:
    """One row per asset: state, partitions, freshness, checks, blockers, last run.

    Example: duck status --fail-on stale
    """
    from duck_cli.cli import read_commands as read

    opts = o.StatusOptions(_target(ctx, project, selection, json, exclude, var), partitions, show_all,
                           tuple(fail_on or ()))
    _done(read.status(options=opts, env=ctx.obj))


@app.command()
def why(ctx: typer.Context, var: Optional[List[str]] = VarOpt, target: str = typer.Argument(..., help="An asset or data product.",
                                                         autocompletion=pm.targets),
        project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt, partition: Optional[str] = typer.Option(
            None, "--partition", help="Explain one partition.", autocompletion=pm.keys),
        json: bool = JsonOpt) -> None:
    """Explain why an asset or product is stale: root cause and the next action.

    Example: duck why daily_revenue --partition 2026-03-12
    """
    from duck_cli.cli import read_commands as read

    opts = o.WhyOptions(_target(ctx, project, json=json, var=var), target, partition)
    _done(read.why(options=opts, env=ctx.obj))


@app.command()
def reconcile(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
              selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
              project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
              apply: bool = typer.Option(False, "--apply", help="Execute the plan."),
              retry_failed: bool = typer.Option(False, "--retry-failed",
                                                help="Retry partitions that failed unchanged."),
              wait: Optional[float] = WaitOpt, progress: bool = ProgressOpt,
              junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
              json: bool = JsonOpt, jobs: Optional[int] = JobsOpt) -> None:
    """The smallest set of rebuilds that moves unhealthy assets back to healthy.

    Example: duck reconcile --apply
    """
    from duck_cli.cli import write_commands as write

    opts = o.ReconcileOptions(_target(ctx, project, selection, json, exclude, var), apply, retry_failed,
                              o.RunOptions(wait, jobs, progress, junit_xml, github))
    _done(write.reconcile(options=opts, env=ctx.obj))


@app.command()
def check(ctx: typer.Context, var: Optional[List[str]] = VarOpt,
          selection: Optional[List[str]] = SelArg, exclude: Optional[List[str]] = ExcludeOpt,
          project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
          partition: Optional[List[str]] = PartOpt, wait: Optional[float] = WaitOpt,
          junit_xml: Optional[Path] = JunitOpt, github: bool = GithubOpt,
          json: bool = JsonOpt) -> None:
    """Run the checks on the published data, without materializing.

    Example: duck check zone_metrics --partition 2026-03-12
    """
    from duck_cli.cli import write_commands as write

    opts = o.CheckOptions(_target(ctx, project, selection, json, exclude, var), _keys(partition),
                          o.RunOptions(wait, junit_xml=junit_xml, github=github))
    _done(write.check(options=opts, env=ctx.obj))


@app.command()
def report(ctx: typer.Context, project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
           html: Optional[Path] = typer.Option(None, "--html", help="Write the HTML status "
                                               "report into this folder (new, or an earlier "
                                               "report's)."),
           json: bool = JsonOpt) -> None:
    """Write a static HTML status report: health, lineage, one page per asset, run timelines.

    No server and no network: open DIR/index.html, or keep DIR as a CI artifact.

    Example: duck report --html site
    """
    from duck_cli.cli import report_html

    _done(report_html.report(options=o.ReportOptions(_target(ctx, project, json=json), html),
                             env=ctx.obj))


runs_app = typer.Typer(cls=RootGroup, invoke_without_command=True)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
def runs(ctx: typer.Context, project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
         limit: int = typer.Option(20, "--limit", min=1, help="How many runs (1 or more)."),
         asset: Optional[str] = typer.Option(None, "--asset", help="Only runs touching it.",
                                             autocompletion=pm.targets),
         json: bool = JsonOpt) -> None:
    """List runs, newest first; `duck runs show RUN_ID` for one run's steps and checks.

    Example: duck runs --limit 5
    """
    if ctx.invoked_subcommand is None:
        from duck_cli.cli import read_commands as read

        opts = o.RunsOptions(_target(ctx, project, json=json), limit, asset)
        _done(read.runs(options=opts, env=ctx.obj))


@runs_app.command("show")
def runs_show(ctx: typer.Context,
              run_id: str = typer.Argument(..., help="A run id (or a unique prefix).",
                                           autocompletion=pm.runs),
              project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt, json: bool = JsonOpt) -> None:
    """Show one run: its steps, partitions, errors and check results.

    Example: duck runs show r00001
    """
    from duck_cli.cli import read_commands as read

    opts = o.RunShowOptions(_target(ctx, project, json=json), run_id)
    _done(read.run_show(options=opts, env=ctx.obj))


@app.command()
def init(ctx: typer.Context,
         directory: Path = typer.Argument(Path("."), help="Where to create the project."),
         json: bool = JsonOpt) -> None:
    """Scaffold a small working project (source data, two assets, a check, freshness).

    Example: duck init my_project && duck materialize -p my_project
    """
    from duck_cli.cli import write_commands as write

    _done(write.init(options=o.InitOptions(directory, json), env=ctx.obj))


@app.command()
def schema(ctx: typer.Context,
           which: str = typer.Argument("manifest",
                                       help="manifest, or a --json document name.")) -> None:
    """Print a JSON Schema: the manifest format (for editors) or a --json document's shape.

    Example: duck schema > manifest.schema.json
    """
    from duck_cli.cli import read_commands as read

    _done(read.schema(options=o.SchemaOptions(which), env=ctx.obj))


@app.command()
def prune(ctx: typer.Context, project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt,
          keep_runs: Optional[int] = typer.Option(None, "--keep-runs", min=0,
                                                  help="Keep the newest N runs."),
          older_than: Optional[str] = typer.Option(None, "--older-than",
                                                   help="Delete runs older than this (e.g. 90d)."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted; "
                                       "delete nothing."),
          envs: bool = typer.Option(False, "--envs", help="Only drop old environments."),
          wait: Optional[float] = WaitOpt, json: bool = JsonOpt) -> None:
    """Delete old run history; never the current materialization of any partition.

    Example: duck prune --older-than 90d
    """
    from duck_cli.cli import write_commands as write

    opts = o.PruneOptions(_target(ctx, project, json=json), keep_runs, older_than, wait, dry_run, envs)
    _done(write.prune(options=opts, env=ctx.obj))


@app.command()
def doctor(ctx: typer.Context,
           project: Optional[Path] = ProjectOpt, env_name: Optional[str] = EnvOpt, wait: Optional[float] = WaitOpt,
           fix: bool = typer.Option(False, "--fix", help="Move a corrupt catalog aside and "
                                    "rebuild it from the warehouse ledger."),
           json: bool = JsonOpt) -> None:
    """Check that the catalog and the warehouse agree (reading every table); repair what a
    dead run left behind.

    Example: duck doctor
    """
    from duck_cli.cli import write_commands as write

    opts = o.DoctorOptions(_target(ctx, project, json=json), wait, fix)
    _done(write.doctor(options=opts, env=ctx.obj))


def main() -> None:
    """Console-script entry point (cli/entry.py: builds only the command named)."""
    from duck_cli.cli.entry import run

    run(app)
