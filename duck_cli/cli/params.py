"""The command-line parameters that several commands share, with their shell completion.

Completers read the project named on the line being completed (`cli.complete`); they are
imported only when the shell asks.
"""

from __future__ import annotations

import typer


def _selectors(ctx, incomplete: str) -> list[str]:
    from duck_cli.cli import complete

    return complete.selectors(complete.project_dir(ctx), incomplete)


def keys(ctx, incomplete: str) -> list[str]:
    """Completion of partition keys."""
    from duck_cli.cli import complete

    return complete.keys(complete.project_dir(ctx), incomplete)


def runs(ctx, incomplete: str) -> list[str]:
    """Completion of run ids."""
    from duck_cli.cli import complete

    return complete.runs(complete.project_dir(ctx), incomplete)


def backfills(ctx, incomplete: str) -> list[str]:
    """Completion of backfill ids."""
    from duck_cli.cli import complete

    return complete.backfills(complete.project_dir(ctx), incomplete)


def targets(ctx, incomplete: str) -> list[str]:
    """Completion of asset and data product names."""
    from duck_cli.cli import complete

    return complete.targets(complete.project_dir(ctx), incomplete)


def choices(*values: str):
    """Completion for an option with a fixed set of values."""
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


ProjectOpt = typer.Option(None, "--project", "-p", envvar="DUCK_PROJECT",
                          help="Project folder (default: the current directory).")
EnvOpt = typer.Option(None, "--env", envvar="DUCK_ENV", help="The environment: its own tables "
                      "and runs, unchanged upstream read from production (default: prod).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout.")
SelArg = typer.Argument(None, help="Selection: name, +name, name+, 2+name, name+1, @name, tag:x, "
                        "owner:x, kind:x, schema:x, globs; a comma intersects (tag:x,owner:y).",
                        autocompletion=_selectors)
ExcludeOpt = typer.Option(None, "--exclude", help="Leave out what these selectors match "
                          "(repeatable; same syntax as the selection).",
                          autocompletion=_selectors)
PartOpt = typer.Option(None, "--partition", help="A partition key (repeatable).",
                       autocompletion=keys)
FromOpt = typer.Option(None, "--from", help="First partition key of a range.", autocompletion=keys)
ToOpt = typer.Option(None, "--to", help="Last partition key of a range (inclusive).",
                     autocompletion=keys)
WaitOpt = typer.Option(None, "--wait", min=0, help="Seconds to wait for another writer (default 30).")
JobsOpt = typer.Option(None, "--jobs", "-j", min=1, help="Independent steps run side by side "
                       "(default: duck.yaml's jobs, else the cores, 2 to 4; 1: one by one).")
ProgressOpt = typer.Option(True, "--progress/--no-progress", help="Progress bar on a terminal.")
JunitOpt = typer.Option(None, "--junit-xml", help="Write a JUnit XML report of steps and checks.")
VarOpt = typer.Option(None, "--var", help="A variable for the SQL, name=value (repeatable; "
                      "over duck.yaml's vars; read with getvariable('name')).")
GithubOpt = typer.Option(False, "--github",
                         help="GitHub Actions annotations and step summary (auto in Actions).")
