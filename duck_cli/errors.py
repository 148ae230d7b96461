"""One error root for duck, a few subclasses with structured fields, and the exit codes.

Core modules raise these; only ``cli/`` turns them into a message and an exit code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import IntEnum
from typing import Iterable


class ExitCode(IntEnum):
    """Exit codes are a tested API (see DESIGN.md, Contracts)."""

    OK = 0
    FAILED = 1  # a step or a blocking check failed
    INVALID = 2  # invalid manifests or usage
    FAIL_ON = 3  # status/plan found what --fail-on names
    LOCKED = 4  # catalog or warehouse locked past the wait
    HELD_BACK = 5  # nothing could run: the selection was held back entirely (none of it fresh)
    INTERNAL = 70  # a bug in duck (EX_SOFTWARE of sysexits.h): an unexpected error, reported
    INTERRUPTED = 130
    TERMINATED = 143  # SIGTERM: the run stopped after its current step, recorded as canceled


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a project, pointing at where it is."""

    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    asset: str | None = None
    severity: str = "error"  # error | warning

    def where(self) -> str:
        """``file:line`` (or just the file, or empty).

        >>> Problem("x", "a.yaml", 3).where()
        'a.yaml:3'
        """
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def render(self) -> str:
        """One paragraph: where, what, how to fix."""
        head = f"{self.where()}: " if self.where() else ""
        who = f"asset '{self.asset}': " if self.asset and f"'{self.asset}'" not in self.message \
            else ""
        stop = "" if self.message.endswith((".", "!", "?")) else "."
        tail = f" {self.hint}" if self.hint else ""
        return f"{head}{who}{self.message}{stop}{tail}"


class DuckError(Exception):
    """Root of every error duck reports to a user."""

    exit_code: ExitCode = ExitCode.INVALID
    code = "error"  # the stable snake_case name in the --json error document

    def __init__(self, message: str, *, hint: str | None = None, asset: str | None = None,
                 partition: str | None = None, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.asset = asset
        self.partition = partition
        self.file = file
        self.line = line

    def problems(self) -> list[Problem]:
        """The error as a list of problems (one, unless a subclass holds several)."""
        return [Problem(self.message, self.file, self.line, self.hint, self.asset)]


class ManifestError(DuckError):
    """The manifests are invalid: holds every problem found, not just the first."""

    code = "invalid_manifest"

    def __init__(self, problems: Iterable[Problem]):
        self._problems = [p for p in problems]
        first = self._problems[0] if self._problems else Problem("invalid manifests")
        super().__init__(first.message, hint=first.hint, file=first.file, line=first.line, asset=first.asset)

    def problems(self) -> list[Problem]:
        return list(self._problems)


class UsageError(DuckError):
    """Bad command-line input: an unknown asset, a bad partition key, conflicting options."""

    code = "usage"


class PartitionKeyError(UsageError):
    """A partition key that does not belong to the asset's partitions definition."""

    code = "bad_partition_key"


class StateError(DuckError):
    """The catalog or warehouse cannot be used: corrupt, newer than duck, unreadable."""

    code = "state"


class LockedError(DuckError):
    """Another duck process holds the project's write lock past the wait."""

    exit_code = ExitCode.LOCKED
    code = "locked"


class ExecutionError(DuckError):
    """A run finished with failed steps or blocking checks (the run itself is recorded)."""

    exit_code = ExitCode.FAILED
    code = "execution"


class InternalError(DuckError):
    """An error duck did not expect (a bug in duck): one paragraph instead of a traceback."""

    exit_code = ExitCode.INTERNAL
    code = "internal"


class Interrupted(DuckError):
    """The user stopped duck (Ctrl-C); what was recorded stays recorded."""

    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint for an unknown name, or None.

    >>> did_you_mean("zone_metric", ["zone_metrics", "daily_revenue"])
    "Did you mean 'zone_metrics'?"
    >>> did_you_mean("zzz", ["abc"]) is None
    True
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'?" if close else None
