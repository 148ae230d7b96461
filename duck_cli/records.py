"""What the state catalog holds, as Python values: the rows it returns and the batch it writes.

`state/catalog.py` reads and writes them; health, plans and documents read them. Every row the
catalog stores is one of these types, built in one place each (no dicts of column names). Plain
NamedTuples and frozen dataclasses: cheap to build by the hundred thousand and to pickle (the
snapshot cache), and their field names are the catalog's column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class RunStatus(StrEnum):
    """The status of a run or of one of its steps (not the health of data: `health.state`)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"  # a step whose upstream failed in the same run
    CANCELED = "canceled"


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
    # partitions whose published data the warehouse no longer holds, and why (see state.held)
    lost: dict[tuple[str, str], str] = field(default_factory=dict)
    warehouse_id: str | None = None  # the warehouse the catalog's materializations live in

    @classmethod
    def empty(cls) -> "Snapshot":
        """A snapshot of a catalog that does not exist yet."""
        return cls({}, {}, {}, (), 0)


class RunRecord(NamedTuple):
    """A run as written: inserted when it starts, replaced whole when its status changes."""

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
    duck_version: str | None


class StepRecord(NamedTuple):
    """One executed step of a run (some partitions of one asset), as written and read back."""

    seq: int
    run_id: str
    step: int
    asset: str
    partitions: list
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    error_kind: str | None
    row_count: int | None
    blocked_by: str | None
    code_version: str | None
    reasons: str | None
    input_seq: int | None
    log: str | None = None  # what a Python step logged (context.log)


class CheckRecord(NamedTuple):
    """One check result as written (``sample`` as JSON text; ``stage``: audit or published)."""

    seq: int
    run_id: str | None
    step: int | None
    asset: str
    partition_key: str
    check_name: str
    kind: str
    severity: str
    passed: bool
    observed: str | None
    failing: int
    message: str
    sample: str
    created_at: datetime
    stage: str


class LedgerRow(NamedTuple):
    """A publish (or a source observation) as the warehouse ledger and the catalog record it."""

    seq: int
    asset: str
    partition_key: str
    run_id: str | None
    step: int | None
    created_at: datetime
    code_version: str | None
    data_version: str | None
    row_count: int | None
    kind: str
    upstream: str | None


class BackfillRecord(NamedTuple):
    """A backfill request as written (``requested`` and ``options`` as JSON text)."""

    backfill_id: str
    created_at: datetime
    selection: str
    requested: str
    options: str
    status: str


class BackfillStatus(NamedTuple):
    """A change of a recorded backfill's status."""

    backfill_id: str
    status: str


class Backfill(NamedTuple):
    """A recorded backfill as read back, with its runs (oldest first)."""

    backfill_id: str
    created_at: datetime
    selection: str
    requested: dict
    options: dict
    status: str
    run_ids: list
    run_statuses: list


@dataclass
class Batch:
    """Catalog writes collected during a run and flushed in one transaction."""

    runs: list[RunRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    mats: list[LedgerRow] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)
    backfills: list[BackfillRecord | BackfillStatus] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.runs, self.steps, self.mats, self.checks, self.backfills))
