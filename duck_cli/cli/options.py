"""What each command was asked for: one frozen options dataclass per command.

`app.py` fills them from the parsed command line; the command bodies read them by name. Shared
pieces (the project and --json, a partition range, how a run runs) are composed, not copied.
Here: the writing commands' (materialize, backfill); the reading ones' are in `options_read`,
the less used ones' in `options_more`, each loaded when a command asks for one of its names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the shared pieces, in a module of their own (`options_more` builds on them too)
from duck_cli.cli.options_shared import Keys, RunOptions, Target


@dataclass(frozen=True)
class MaterializeOptions:
    """`duck materialize`."""

    target: Target = field(default_factory=Target)
    partitions: Keys = field(default_factory=Keys)
    force: bool = False
    run: RunOptions = field(default_factory=RunOptions)


@dataclass(frozen=True)
class BackfillRequest:
    """Which partitions a backfill rebuilds, as `plan.backfill` and the backfill record read it."""

    partitions: Keys = field(default_factory=Keys)
    missing: bool = False
    failed: bool = False
    downstream: bool = False
    batch_size: int | None = None
    max_partitions: int | None = None
    resume: str | None = None

    @property
    def keys(self) -> list[str]:
        return list(self.partitions.keys)

    @property
    def first(self) -> str | None:
        return self.partitions.first

    @property
    def last(self) -> str | None:
        return self.partitions.last


@dataclass(frozen=True)
class BackfillOptions:
    """`duck backfill`."""

    target: Target = field(default_factory=Target)
    request: BackfillRequest = field(default_factory=BackfillRequest)
    dry_run: bool = False
    run: RunOptions = field(default_factory=RunOptions)
    runner: str | None = None  # a shared backfill's runner name (default host:pid)


def __getattr__(name: str):
    """The other commands' options, from `options_read` or `options_more` on first use: a
    command then creates only the dataclasses it needs (each costs about 0.5 ms to create)."""
    if name.startswith("__"):  # the import system asks for __path__ and the like
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    for module in ("duck_cli.cli.options_read", "duck_cli.cli.options_more"):
        found = getattr(import_module(module), name, None)
        if found is not None:
            return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
