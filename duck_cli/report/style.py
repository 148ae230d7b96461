"""The look shared by every table: state colours, escaping, the console.

Rich is imported inside functions: `duck --help` and `--json` output do not pay for it.
"""

from __future__ import annotations

import os
import re
import sys

STATE_STYLE = {"fresh": "green", "stale": "yellow", "missing": "red", "failed": "bold red",
               "warn": "yellow", "unknown": "dim", "success": "green", "skipped": "yellow",
               "running": "cyan", "abandoned": "magenta", "canceled": "magenta",
               "blocked": "red", "unfixable": "bold red"}


def console(stderr: bool = False):
    """A rich console (plain when not a terminal; NO_COLOR respected by rich)."""
    from rich.console import Console

    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
    stream = sys.stderr if stderr else sys.stdout
    if width is None and not stream.isatty():
        width = 160  # logs and CI: wide enough that tables do not fold every cell
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=stderr)


def styled(state: str | None) -> str:
    """A state word with its colour markup."""
    if not state:
        return ""
    style = STATE_STYLE.get(state)
    return f"[{style}]{state}[/]" if style else state


def _table(title: str | None, *columns: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False, pad_edge=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _esc(text) -> str:
    """Text from data or manifests, safe in a rich markup string and on a CI runner's log."""
    from rich.markup import escape

    return escape(neutral("" if text is None else str(text)))


_COLONS = re.compile(r":(?=:)")
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0, 32), 127]} | {10: "\\n", 13: "\\r", 9: "\\t"}


def neutral(text: str) -> str:
    """One line a CI runner cannot take for a workflow command: control characters (newlines
    included) written as escapes, and every ``::`` broken up.

    >>> neutral("EMEA\\n::error file=x::boom")
    'EMEA\\\\n: :error file=x: :boom'
    """
    return _COLONS.sub(": ", text.translate(_CONTROL))
