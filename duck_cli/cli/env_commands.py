"""`duck env list`, `duck env drop`, `duck promote`, and the environments `duck prune` drops:
open, call the core, render, return an exit code."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import typer

from duck_cli.cli import params as pm
from duck_cli.cli.env import Env
from duck_cli.cli.options import Target
from duck_cli.cli.project import open_project, wait_of
from duck_cli.errors import ExitCode, UsageError
from duck_cli.report import environments as view
from duck_cli.report import render
from duck_cli.sql import PROD

env_app = typer.Typer(invoke_without_command=False, no_args_is_help=True)


@env_app.callback()
def _env_group() -> None:
    """List and drop environments: previews built with --env NAME.

    Example: duck env list
    """


@dataclass(frozen=True)
class EnvOptions:
    """`duck env list`, `duck env drop NAME`, `duck promote --env NAME`."""

    target: Target = field(default_factory=Target)
    name: str | None = None
    wait: float | None = None


@env_app.command("list")
def list_command(ctx: typer.Context, project=pm.ProjectOpt, json: bool = pm.JsonOpt) -> None:
    """List environments: name, age, tables and rows, the git commit last built from.

    Example: duck env list --json
    """
    raise typer.Exit(int(env_list(options=EnvOptions(Target(project, json=json)),
                                  env=ctx.find_root().obj)))


@env_app.command("drop")
def drop_command(ctx: typer.Context, name: str = typer.Argument(..., help="The environment."),
                 project=pm.ProjectOpt, wait=pm.WaitOpt, json: bool = pm.JsonOpt) -> None:
    """Drop an environment: its schema in the warehouse and its runs and materializations.

    Example: duck env drop pr-42
    """
    opts = EnvOptions(Target(project, json=json), name, wait)
    raise typer.Exit(int(env_drop(options=opts, env=ctx.find_root().obj)))


def promote_command(ctx: typer.Context, project=pm.ProjectOpt, env_name=pm.EnvOpt,
                    wait=pm.WaitOpt, json: bool = pm.JsonOpt) -> None:
    """Make production hold what an environment built: copy its tables, recompute nothing.

    Refused (exit 2) when production moved since the preview was built.

    Example: duck promote --env pr-42
    """
    opts = EnvOptions(Target(project, json=json, env=env_name), env_name, wait)
    raise typer.Exit(int(promote(options=opts, env=ctx.find_root().obj)))


def env_list(*, options: EnvOptions, env: Env) -> int:
    """Every environment of the project."""
    from duck_cli.state import environments as envs

    project = open_project(options.target, env)
    found = envs.describe(project.settings, project.settings.wait_seconds)
    view.env_list(env.screen, found, env.now(), options.target.json)
    return ExitCode.OK


def env_drop(*, options: EnvOptions, env: Env) -> int:
    """Drop one environment under the write lock."""
    from duck_cli.cli.environments import check_name
    from duck_cli.state import environments as envs
    from duck_cli.state.backends import write_lock

    name = check_name(options.name or "")
    if name == PROD:
        raise UsageError("production cannot be dropped", hint="Name an environment, e.g. "
                         "duck env drop pr-42.")
    project = open_project(options.target, env)
    wait = wait_of(project, options.wait)
    with write_lock(project.settings, "env drop", wait=wait, now=env.now(),
                    on_wait=lambda info: render.waiting(env.screen, info)):
        found = envs.drop(project.settings, name, wait)
    view.env_dropped(env.screen, name, found, options.target.json)
    return ExitCode.OK


def promote(*, options: EnvOptions, env: Env) -> int:
    """Copy what environment --env built into production, under production's write lock."""
    from duck_cli.run import promote as promoting, session
    from duck_cli.state import environments as envs
    from duck_cli.state.backends import state_backend

    preview = open_project(options.target, env)
    name = preview.settings.env
    if name == PROD:
        raise UsageError("promote needs the environment to promote", hint="Name it with "
                         "--env, e.g. duck promote --env pr-42.")
    prod = open_project(replace(options.target, env=PROD), env)
    wait = wait_of(prod, options.wait)
    built = state_backend(preview.settings).read_snapshot(wait)
    with session.session(prod, "promote", env.now, wait=wait, hold_catalog=True,
                         on_wait=lambda info: render.waiting(env.screen, info),
                         faults=env.faults) as s:
        base_seq = envs.base_seq(preview.settings, wait, con=s.wh.con)
        mats = promoting.what(prod, built, s.snapshot, env.now())
        why = promoting.refusal(prod, mats, s.snapshot, base_seq, name)
        if why is not None:
            raise UsageError(why, hint=f"Nothing was promoted. Run `duck materialize --env "
                             f"{name}` again, or `duck materialize` in production.")
        result = promoting.promote(s, name, mats, built)
    view.promoted(env.screen, result, options.target.json)
    return ExitCode.OK


def prune_environments(project, env: Env, dry_run: bool, wait: float) -> list[str]:
    """Drop the environments last built longer ago than duck.yaml's env_retention_days
    (the caller holds the write lock); their names."""
    from duck_cli.state import environments as envs

    days = project.settings.env_retention_days
    old = envs.older_than(project.settings, env.now() - timedelta(days=days), wait)
    if not dry_run:
        for e in old:
            envs.drop(project.settings, e.slug, wait)
    return [e.name for e in old]
