"""What the state catalog holds, as Python values: the rows it returns and the batch it writes.

`catalog.py` reads and writes them; health, plans and documents read them. Plain NamedTuples
and frozen dataclasses: cheap to build by the hundred thousand and to pickle (the snapshot cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


class Mat(NamedTuple):
    """A recorded materialization (or a source observation) of one asset partition."""

    seq: int
    asset: str
    partition: str
    run_id: str | None
    step: int | None
    created_at: datetime
    code_version: str | None
    data_version: str | None
    row_count: int | None
    kind: str


class Attempt(NamedTuple):
    """The latest executed step that touched one asset partition (success or failed)."""

    seq: int
    run_id: str
    step: int
    asset: str
    partition: str
    status: str
    error: str | None
    error_kind: str | None
    code_version: str | None
    ended_at: datetime | None
    input_seq: int | None


class CheckRow(NamedTuple):
    """A recorded check result for one asset partition."""

    seq: int
    run_id: str | None
    asset: str
    partition: str
    name: str
    kind: str
    severity: str
    passed: bool
    observed: str | None
    failing: int
    message: str
    sample: list
    stage: str


class RunRow(NamedTuple):
    """A run: an execution record."""

    run_id: str
    command: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    pid: int | None
    host: str | None
    args: str | None
    backfill_id: str | None
    error: str | None


@dataclass(frozen=True)
class Snapshot:
    """What the catalog knows, read in one transaction."""

    current: dict[tuple[str, str], Mat]
    attempts: dict[tuple[str, str], Attempt]  # partitions whose latest attempt failed
    checks: dict[tuple[str, str], tuple[CheckRow, ...]]  # latest results that did not pass
    active_runs: tuple[RunRow, ...]
    max_seq: int
    last_attempts: dict[str, Attempt] = field(default_factory=dict)  # latest per asset
    check_counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # ok/err/warn

    @classmethod
    def empty(cls) -> "Snapshot":
        """A snapshot of a catalog that does not exist yet."""
        return cls({}, {}, {}, (), 0)


@dataclass
class Batch:
    """Catalog writes collected during a run and flushed in one transaction."""

    runs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    mats: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    backfills: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.runs, self.steps, self.mats, self.checks, self.backfills))
