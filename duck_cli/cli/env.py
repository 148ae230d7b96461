"""The one place duck meets its process: streams, terminal width, colour, clock, CI, debug, argv.

`Env.from_process` is built once per invocation by the app; command bodies and reports get
what they need from it (a `Screen`, the clock, GitHub settings), never from `os` or `sys`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, TextIO

from duck_cli.manifest.settings import clock
from duck_cli.report.style import Screen
from duck_cli.run.faults import Faults

if TYPE_CHECKING:  # annotations only: `github` loads it when CI reports are asked for
    from duck_cli.report.ci import GitHub

PIPED_WIDTH = 120  # logs and CI: wide enough for the tables, narrow enough to read
PIPED_HEIGHT = 40  # rows of a table before status and plan summarise (a screenful)


@dataclass(frozen=True)
class Env:
    """What one invocation of `duck` knows about the world it runs in."""

    stdout: TextIO
    stderr: TextIO
    width: int
    color: str | None  # a rich colour system ("standard", "256", "truecolor"), None: no colour
    terminal: bool  # stdout is a terminal: progress bars, live output
    duck_now: str  # DUCK_NOW as given ("" for the wall clock), parsed by `now`
    ci: bool
    github_actions: bool
    step_summary: Path | None
    debug: bool
    argv: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    faults: Faults = field(default_factory=Faults, compare=False)
    tz: tzinfo | None = None  # TZ: the zone of times in tables (None: the system's local time)
    height: int = PIPED_HEIGHT

    @classmethod
    def from_process(cls, argv: tuple[str, ...] = (), debug: bool = False) -> "Env":
        """The Env of this process: os.environ and the real (or test runner's) streams."""
        return cls.build(dict(os.environ), sys.stdout, sys.stderr, argv=argv, debug=debug)

    @classmethod
    def build(cls, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO, *,
              argv: tuple[str, ...] = (), debug: bool = False) -> "Env":
        """An Env from an environment mapping and two streams (tests pass their own)."""
        terminal = _isatty(stdout)
        return cls(stdout=stdout, stderr=stderr, width=width_of(environ, stdout),
                   color=color_of(environ, terminal), terminal=terminal,
                   duck_now=environ.get("DUCK_NOW", "").strip(),
                   ci=_flag(environ.get("CI")),
                   github_actions=environ.get("GITHUB_ACTIONS") == "true",
                   step_summary=Path(environ["GITHUB_STEP_SUMMARY"])
                   if environ.get("GITHUB_STEP_SUMMARY") else None,
                   debug=debug or _flag(environ.get("DUCK_DEBUG")), argv=tuple(argv),
                   environ=environ, faults=Faults.parse(environ.get("DUCK_FAULT")),
                   tz=zone_of(environ), height=height_of(environ, stdout))

    def now(self) -> datetime:
        """The aware "now": DUCK_NOW when set (a bad value is a usage error), else UTC."""
        return self._fixed_now or datetime.now(timezone.utc)

    @cached_property
    def _fixed_now(self) -> datetime | None:
        return clock({"DUCK_NOW": self.duck_now}) if self.duck_now else None

    @cached_property
    def screen(self) -> Screen:
        """Where reports draw."""
        return Screen(self.stdout, self.stderr, self.width, self.color, self.terminal,
                      self.tz, self.height)

    @property
    def wants_json(self) -> bool:
        """Whether the command line asks for JSON: --json (or graph's --format json), read from
        the words themselves so that it holds when other options fail to parse."""
        words = self.argv
        return "--json" in words or "--format=json" in words or any(
            a == "--format" and b == "json" for a, b in zip(words, words[1:]))

    @property
    def args(self) -> str:
        """The command line as the run record keeps it."""
        return " ".join(self.argv)

    def github(self, flag: bool) -> GitHub | None:
        """GitHub reporting when --github asks or the run is inside GitHub Actions."""
        if not (flag or self.github_actions):
            return None
        from duck_cli.report.ci import GitHub  # CI reports only: a plain run never loads them

        return GitHub(self.stderr, self.step_summary)


def width_of(environ: Mapping[str, str], stream: TextIO) -> int:
    """COLUMNS when set, else the terminal's own width, else 120 (piped: logs, CI).

    >>> import io
    >>> width_of({"COLUMNS": "80"}, io.StringIO()), width_of({}, io.StringIO())
    (80, 120)
    """
    text = environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or PIPED_WIDTH
        except (OSError, ValueError):
            return PIPED_WIDTH
    return PIPED_WIDTH


def zone_of(environ: Mapping[str, str]) -> tzinfo | None:
    """The zone TZ names (an IANA name, optionally after ':'), else None: the system's local time.

    >>> zone_of({"TZ": "Europe/Amsterdam"}).key, zone_of({}), zone_of({"TZ": "not a zone"})
    ('Europe/Amsterdam', None, None)
    """
    from zoneinfo import ZoneInfo

    name = environ.get("TZ", "").strip().lstrip(":")
    try:
        return ZoneInfo(name) if name else None
    except (KeyError, ValueError, OSError):  # a POSIX rule (CET-1) or a path: left to the system
        return None


def height_of(environ: Mapping[str, str], stream: TextIO) -> int:
    """LINES when set, else the terminal's own height, else 40 (piped: logs, CI).

    >>> import io
    >>> height_of({"LINES": "60"}, io.StringIO()), height_of({}, io.StringIO())
    (60, 40)
    """
    text = environ.get("LINES", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).lines or PIPED_HEIGHT
        except (OSError, ValueError):
            return PIPED_HEIGHT
    return PIPED_HEIGHT


def color_of(environ: Mapping[str, str], terminal: bool) -> str | None:
    """The colour system: none with NO_COLOR or when piped (unless FORCE_COLOR), else by TERM.

    >>> color_of({}, True), color_of({"NO_COLOR": "1"}, True), color_of({}, False)
    ('standard', None, None)
    >>> color_of({"FORCE_COLOR": "1", "TERM": "xterm-256color"}, False)
    '256'
    """
    if environ.get("NO_COLOR") or not (terminal or environ.get("FORCE_COLOR")):
        return None
    if environ.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    return "256" if environ.get("TERM", "").endswith("256color") else "standard"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream is not a terminal
        return False


def _flag(value: str | None) -> bool:
    """An environment switch: set and not a spelled-out no.

    >>> _flag("1"), _flag("true"), _flag("0"), _flag("false"), _flag(""), _flag(None)
    (True, True, False, False, False, False)
    """
    return bool(value) and value.strip().lower() not in ("0", "false", "no", "off")
