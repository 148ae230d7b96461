"""The look shared by every table: state colours, escaping, the console.

Rich is imported inside functions: `duck --help` and `--json` output do not pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo
from functools import cached_property
from typing import TextIO

STATE_STYLE = {"fresh": "green", "stale": "yellow", "missing": "red", "failed": "bold red",
               "warn": "yellow", "unknown": "dim", "success": "green", "skipped": "yellow",
               "running": "cyan", "abandoned": "magenta", "canceled": "magenta",
               "blocked": "red", "unfixable": "bold red"}


@dataclass(frozen=True)
class Screen:
    """Where reports draw: the two streams, their width, colour, and whether stdout is a terminal.

    The CLI builds it once from its Env; reports never look at the process themselves.
    """

    stdout: TextIO
    stderr: TextIO
    width: int = 120
    color: str | None = None  # a rich colour system ("standard", "256", "truecolor") or none
    terminal: bool = False
    tz: tzinfo | None = None  # the zone tables show times in (None: the system's local time)
    height: int = 40  # lines on the screen: more rows than this get a summary (report.summary)

    @cached_property
    def out(self):
        """The rich console on stdout (made on first use: --json output never imports rich)."""
        return make_console(self.stdout, self.width, self.color, self.terminal)

    @cached_property
    def err(self):
        """The rich console on stderr: messages wrap as plain text, not at the table width."""
        return make_console(self.stderr, self.width, self.color, self.terminal, soft_wrap=True)


def make_console(file: TextIO, width: int, color: str | None, terminal: bool,
                 soft_wrap: bool = False):
    """A rich console on ``file`` at ``width`` columns, coloured only when asked."""
    from rich.console import Console

    # _environ={}: rich would otherwise read COLUMNS, NO_COLOR and TERM itself; the Env did
    return Console(file=file, width=width, highlight=False, soft_wrap=soft_wrap,
                   force_terminal=terminal or color is not None, no_color=color is None,
                   color_system=color, _environ={})


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
