"""`duck migrate`: move a project's state and warehouse between the local files and the shared
mode (PostgreSQL state, a DuckLake warehouse), and back: open, call the core, render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer

from duck_cli.cli import params as pm
from duck_cli.cli.env import Env
from duck_cli.cli.options import Target
from duck_cli.cli.project import open_project, wait_of
from duck_cli.errors import ExitCode


@dataclass(frozen=True)
class MigrateOptions:
    """`duck migrate --to shared|local`."""

    target: Target = field(default_factory=Target)
    to: str = "shared"  # shared: the local files into duck.yaml's shared mode; local: back
    force: bool = False  # replace what the target holds
    wait: float | None = None


def migrate_command(ctx: typer.Context,
                    to: str = typer.Option(..., "--to", metavar="shared|local", help=(
                        "shared: copy .duck/'s catalog and warehouse into the PostgreSQL state "
                        "and DuckLake duck.yaml names; local: copy them back into .duck/.")),
                    force: bool = typer.Option(False, "--force", help=(
                        "Replace what the target already holds (local files are kept beside "
                        "it as *.replaced).")),
                    project: Optional[Path] = pm.ProjectOpt,
                    wait: Optional[float] = pm.WaitOpt, json: bool = pm.JsonOpt) -> None:
    """Copy the state and the warehouse between the local files and the shared mode, then
    compare every table's rows and hash on both sides (exit 0 only when all are equal).

    The source is only read; a target that already holds duck's records or tables is refused
    (exit 2) unless --force. Only the parts duck.yaml makes shared move.

    Example: duck migrate --to shared
    """
    opts = MigrateOptions(Target(project, json=json), to, force, wait)
    raise typer.Exit(int(migrate(options=opts, env=ctx.find_root().obj)))


def migrate(*, options: MigrateOptions, env: Env) -> int:
    """Move the parts under both sides' write locks, verify, report."""
    from duck_cli.report.migrate import migrated
    from duck_cli.state.migrate import migrate as move

    project = open_project(options.target, env)
    report = move(project.settings, project.root, options.to, force=options.force,
                  wait=wait_of(project, options.wait), clock=env.now, fault=env.faults.hit)
    migrated(env.screen, report, options.target.json)
    return ExitCode.OK if report.ok else ExitCode.FAILED
