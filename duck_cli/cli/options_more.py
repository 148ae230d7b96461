"""The options of the less used commands (`options` loads this module on first use).

Each frozen dataclass costs about 0.5 ms to create, and a command needs only its own: the ones
here are not created on the way to plan, status, materialize or backfill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from duck_cli.cli.options_shared import Keys, RunOptions, Target


@dataclass(frozen=True)
class GraphOptions:
    """`duck graph`."""

    target: Target = field(default_factory=Target)
    format: str = "tree"  # tree | mermaid | dot | json
    health: bool = False


@dataclass(frozen=True)
class WhyOptions:
    """`duck why`."""

    target: Target = field(default_factory=Target)
    name: str = ""  # the asset or data product
    partition: str | None = None


@dataclass(frozen=True)
class ReconcileOptions:
    """`duck reconcile`."""

    target: Target = field(default_factory=Target)
    apply: bool = False
    retry_failed: bool = False
    run: RunOptions = field(default_factory=RunOptions)


@dataclass(frozen=True)
class CheckOptions:
    """`duck check`."""

    target: Target = field(default_factory=Target)
    partitions: Keys = field(default_factory=Keys)
    run: RunOptions = field(default_factory=RunOptions)


@dataclass(frozen=True)
class RunsOptions:
    """`duck runs`."""

    target: Target = field(default_factory=Target)
    limit: int = 20
    asset: str | None = None


@dataclass(frozen=True)
class RunShowOptions:
    """`duck runs show`."""

    target: Target = field(default_factory=Target)
    run_id: str = ""


@dataclass(frozen=True)
class InitOptions:
    """`duck init`."""

    directory: Path = Path(".")
    json: bool = False


@dataclass(frozen=True)
class PruneOptions:
    """`duck prune`."""

    target: Target = field(default_factory=Target)
    keep_runs: int | None = None
    older_than: str | None = None
    wait: float | None = None
    dry_run: bool = False  # count what would be deleted, delete nothing
    envs: bool = False  # --envs: drop the environments older than env_retention_days only


@dataclass(frozen=True)
class DoctorOptions:
    """`duck doctor`."""

    target: Target = field(default_factory=Target)
    wait: float | None = None
    fix: bool = False  # move an unreadable catalog aside and rebuild it


@dataclass(frozen=True)
class ReportOptions:
    """`duck report`."""

    target: Target = field(default_factory=Target)
    html: Path | None = None


@dataclass(frozen=True)
class SchemaOptions:
    """`duck schema`."""

    which: str = "manifest"


@dataclass(frozen=True)
class BackfillsOptions:
    """`duck backfills`."""

    target: Target = field(default_factory=Target)


@dataclass(frozen=True)
class DiffOptions:
    """`duck diff`: which environment against which base, and how to report."""

    target: Target = field(default_factory=Target)
    env: str | None = None
    base: str = "prod"
    github: bool = False
    fail_on_diff: bool = False
