"""What each command was asked for: one frozen options dataclass per command.

`app.py` fills them from the parsed command line; the command bodies read them by name. Shared
pieces (the project and --json, a partition range, how a run runs) are composed, not copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ValidateOptions:
    """`duck validate`."""

    target: Target = field(default_factory=Target)


@dataclass(frozen=True)
class GraphOptions:
    """`duck graph`."""

    target: Target = field(default_factory=Target)
    format: str = "tree"  # tree | mermaid | dot | json
    health: bool = False


@dataclass(frozen=True)
class PlanOptions:
    """`duck plan`."""

    target: Target = field(default_factory=Target)
    partitions: Keys = field(default_factory=Keys)
    force: bool = False
    fail_on: str | None = None
    github: bool = False  # write the plan to the GitHub step summary
    show_all: bool = False


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


@dataclass(frozen=True)
class StatusOptions:
    """`duck status`."""

    target: Target = field(default_factory=Target)
    partitions: bool = False
    show_all: bool = False
    fail_on: tuple[str, ...] = ()


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
