"""Progress while a plan runs: a rich bar on a terminal, one plain line per step otherwise."""

from __future__ import annotations

import time
from typing import TextIO

from duck_cli.report.style import neutral


class Progress:
    """Receives run events (`start`, `done`) and shows them; a context manager."""

    def __init__(self, plan, *, enabled: bool, plain: bool, stream: TextIO, console=None):
        self.plan = plan
        self.console = console  # the bar's rich console (the terminal's)
        self.stream = stream  # the plain lines' stream (stderr: stdout stays for the report)
        self.enabled = enabled and bool(plan.steps)
        self.plain = plain and bool(plan.steps)
        self.total = plan.partitions
        self.done = 0
        self.t0 = time.perf_counter()
        self._bar = None
        self._task = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeElapsedColumn)

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                            transient=True, console=self.console)
            self._bar.__enter__()
            self._task = self._bar.add_task("starting", total=self.total, rate="")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def event(self, kind: str, step, result) -> None:
        """Handle one event from the runner."""
        if kind == "done":
            self.done += len(result.keys)
        if self._bar is not None:
            rate = self.done / max(time.perf_counter() - self.t0, 1e-6)
            self._bar.update(self._task, completed=self.done, rate=f"{rate:,.1f} partitions/s",
                             description=neutral(step.asset))
        elif self.plain and kind == "done":
            keys = ", ".join(result.keys[:3]) + (" ..." if len(result.keys) > 3 else "")
            label = f"{result.asset} {keys}".strip()
            note = f": {result.error.splitlines()[0]}" if result.error else ""
            line = neutral(f"[{self.done}/{self.total}] {label} {result.status}{note}")
            self.stream.write(line + "\n")
            self.stream.flush()
