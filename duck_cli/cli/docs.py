"""docs/commands.md, generated from each command's `--help` text.

Regenerate it after changing a command, an option or a help text::

    python -m duck_cli.cli.docs > docs/commands.md

(`tests/cli/test_cli_docs.py` fails while the checked-in file differs from this output.)
"""

from __future__ import annotations

import re
import sys

import typer
from typer.testing import CliRunner

from duck_cli.cli.app import app

REGENERATE = "python -m duck_cli.cli.docs > docs/commands.md"
WIDTH = "100"  # COLUMNS for the help texts; click caps them at 80 characters anyway

INTRO = f"""\
# Commands

<!-- Generated from the commands' --help texts by `{REGENERATE}`. Do not edit by hand. -->

Every command that reads a project takes `-p/--project DIR` (default: the current folder, or
`DUCK_PROJECT`), and every command that reports takes `--json` (one document on stdout, see
[json.md](json.md)). Exit codes are in [ci.md](ci.md#exit-codes). `DUCK_NOW` (ISO 8601 with
an offset) fixes the clock of every command.

## Selection

Commands that select assets (`graph`, `plan`, `materialize`, `backfill`, `status`, `reconcile`,
`check`) take any number of selectors, dbt's syntax; none selects every asset, and the result is
in dependency order:

| selector | selects |
| --- | --- |
| `zone_metrics` | that asset |
| `+daily_revenue`, `zone_metrics+`, `+zone_metrics+` | and everything upstream, downstream, both |
| `2+daily_revenue`, `stg_trips+1` | upstream two levels, downstream one level (graph depth) |
| `@zone_metrics` | it, everything downstream, and every ancestor of those |
| `tag:revenue`, `owner:team:finance`, `kind:view`, `schema:marts`, `stg_*` | by attribute; globs in names and values |
| `a b` (separate arguments or words) | union: what any selector matches |
| `tag:revenue,owner:team:finance` | intersection: what every comma-separated part matches |
| `--exclude SEL` (repeatable) | removes what `SEL` matches from the selection |

**Changed: the comma.** Before duck 0.2 a comma inside one argument meant union
(`stg_trips,zones` was both assets); it now means intersection, as in dbt. While the change is
new, duck warns on stderr whenever a selector holds a comma, and an intersection that matches
nothing is an error that spells out the union (`For the union write: stg_trips zones`).

Shell completion (install it with `--install-completion`) completes asset names (after `+`, `2+`
or `@` too), `tag:`, `owner:`, `kind:` and `schema:` values, partition keys, run ids, backfill ids
(`--resume`) and option values (`--format`, `--fail-on`), in the project that `-p DIR` or
`DUCK_PROJECT` names on the line being completed.
"""


def command_paths(group=None, prefix: tuple = ()) -> list[tuple]:
    """Every command and subcommand path, groups included, in the order `duck --help` lists them."""
    group = group or typer.main.get_command(app)
    paths = []
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):  # the lazy commands (`DuckGroup`) load here
        cmd = group.get_command(ctx, name)
        paths.append(prefix + (name,))
        if hasattr(cmd, "commands"):  # a group: its subcommands follow it
            paths.extend(command_paths(cmd, prefix + (name,)))
    return paths


def help_text(path: tuple) -> str:
    """What `duck PATH --help` prints at a fixed width."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="duck",
                                env={"COLUMNS": WIDTH, "NO_COLOR": "1"})
    if result.exit_code != 0:
        raise RuntimeError(f"duck {' '.join(path)} --help exited {result.exit_code}")
    return result.stdout


def example(text: str) -> str | None:
    r"""The `Example: duck ...` paragraph of a help text, unwrapped.

    >>> example("  Does x.\n\n  Example: duck x --from 1\n  --to 2\n\nOptions:\n")
    'duck x --from 1 --to 2'
    """
    found = re.search(r"^\s*Example: (duck .+?)\n\s*\n", text + "\n\n", flags=re.M | re.S)
    return " ".join(found[1].split()) if found else None


def section(path: tuple) -> str:
    """One command's section: a heading, its help text, its example as a command."""
    name = " ".join(("duck",) + path)
    text = help_text(path)
    lines = [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    if example(text):
        lines += [f"Example: `{example(text)}`", ""]
    return "\n".join(lines)


def anchor(path: tuple) -> str:
    """GitHub's anchor for a command's heading.

    >>> anchor(("runs", "show"))
    'duck-runs-show'
    """
    return "duck-" + "-".join(path)


def render() -> str:
    """The whole of docs/commands.md."""
    paths = command_paths()
    toc = "\n".join(f"- [`duck {' '.join(p)}`](#{anchor(p)})" for p in paths)
    body = "\n".join(section(p) for p in [()] + paths)
    return f"{INTRO}\n{toc}\n\n{body}"


if __name__ == "__main__":
    sys.stdout.write(render())
