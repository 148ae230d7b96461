"""The console script's start: build only the Typer command the command line names.

Typer builds every command's options from its signature before running one (about 20 ms of a
no-op's fixed cost), so `run` hides the others unless the line asks for help, the version,
completion or an unknown name (click's "no such command" then lists them all).
"""

from __future__ import annotations

from typing import List, Optional

GC_THRESHOLD = (500_000, 50, 50)  # the cycle collector's bar while duck runs (see `run`)


def invoked(argv: List[str], environ) -> Optional[str]:
    """The command a command line names, when only that command needs building: None for
    help, --version and shell completion, which list every command.

    >>> invoked(["--debug", "plan", "-p", "x"], {}), invoked(["--help"], {}), invoked([], {})
    ('plan', None, None)
    """
    if any(k.startswith("_DUCK_COMPLETE") for k in environ):
        return None
    for arg in argv:
        if arg != "--debug":  # the one root option that lets a command follow
            return None if arg.startswith("-") else arg
    return None


def run(app) -> None:
    """Run the Typer ``app`` for this process's command line."""
    import gc
    import os
    import sys

    from typer.main import get_command_name

    from duck_cli.engine import skip_binding_imports

    skip_binding_imports()  # DuckDB 1.5 would import pandas to bind a parameter (engine.py)
    # A short-lived command allocating hundreds of thousands of small tuples (snapshots, health)
    # spends most of its time in cycle collections that find nothing; raise the bar instead.
    gc.set_threshold(*GC_THRESHOLD)
    # Typer builds every command's options from its signature before running one (about 20 ms
    # of a no-op's fixed cost): build only the one named, unless the name is unknown (click's
    # "no such command" then lists the others).
    name = invoked(sys.argv[1:], os.environ)
    commands, groups = app.registered_commands, app.registered_groups
    mine = [c for c in commands if (c.name or get_command_name(c.callback.__name__)) == name]
    sub = [g for g in groups if g.name == name]
    lazy = name in {spec[0] for spec in getattr(app.info.cls, "lazy", ())}  # loads on its own
    if mine or sub or lazy:
        app.registered_commands, app.registered_groups = mine, sub
    try:
        app()
    finally:
        app.registered_commands, app.registered_groups = commands, groups
