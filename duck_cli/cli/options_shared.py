"""The pieces every command's options share: the project and selection, partitions asked
for, how a writing command runs (`options` and `options_more` compose them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from duck_cli.graph.select import Selection


@dataclass(frozen=True)
class Target:
    """The project folder (-p), the selection (and --exclude), JSON or not, and --var values."""

    project: Path | None = None
    selection: tuple[str, ...] = ()
    json: bool = False
    exclude: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()  # --var name=value
    env: str | None = None  # --env / DUCK_ENV (None: production)

    @property
    def selector(self) -> Selection:
        """What to select: the selector arguments less what --exclude names."""
        return Selection(self.selection, self.exclude)


@dataclass(frozen=True)
class Keys:
    """Partitions asked for: named keys and/or an inclusive range."""

    keys: tuple[str, ...] = ()
    first: str | None = None
    last: str | None = None

    def __bool__(self) -> bool:
        return bool(self.keys or self.first or self.last)


@dataclass(frozen=True)
class RunOptions:
    """How a writing command runs: lock wait, parallel jobs, progress, CI reports."""

    wait: float | None = None
    jobs: int | None = None
    progress: bool = True
    junit_xml: Path | None = None
    github: bool = False
