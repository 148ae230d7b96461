"""The domain, as frozen dataclasses: what the manifests say, after validation.

Dicts appear only at the YAML/JSON boundary; everything past ``validate`` works on these.
An unpartitioned asset has exactly one partition, the empty key ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, Union

UNPARTITIONED = ""  # the one partition key of an unpartitioned asset

TIME_GRANULARITIES = ("hourly", "daily", "weekly", "monthly")
STRATEGIES = ("view", "table", "incremental")
SEVERITIES = ("error", "warn")
CHECK_KINDS = ("row_count", "not_null", "unique", "accepted_values", "accepted_range",
               "relationships", "data_freshness", "sql", "python")


@dataclass(frozen=True)
class Location:
    """Where something was defined: a manifest path relative to the project root, and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class TimePartitions:
    """Time partitions: one key per hour/day/ISO week/month from ``start`` to ``end`` (inclusive).

    Keys: hourly ``2026-03-01T05``, daily ``2026-03-01``, weekly ``2026-W10``, monthly ``2026-03``.
    ``start``/``end`` are naive local datetimes in ``timezone``; the partitions that exist at a
    moment are those from start whose period has ended by then (and that are not past ``end``).
    ``column`` names the table column holding the partition's time (required for incremental).
    """

    granularity: str
    start: datetime
    end: datetime | None = None
    timezone: str = "UTC"
    column: str | None = None

    @property
    def kind(self) -> str:
        return self.granularity


@dataclass(frozen=True)
class StaticPartitions:
    """Static partitions: a fixed list of values (e.g. regions); ``column`` holds the value."""

    values: tuple[str, ...]
    column: str | None = None

    @property
    def kind(self) -> str:
        return "static"


PartitionsDef = Union[TimePartitions, StaticPartitions]


@dataclass(frozen=True)
class Dep:
    """An upstream dependency and how this asset's partitions map onto the upstream's.

    mapping:
      ``auto``     identity for equal definitions, time-window overlap for different time
                   granularities, ``all`` for an unpartitioned reader, the single partition for
                   an unpartitioned upstream;
      ``identity`` same keys (static values must be a subset of the upstream's);
      ``all``      every upstream partition;
      ``offset``   the partition ``offset`` periods away (``-1``: the previous day), then as auto.
    """

    asset: str
    mapping: str = "auto"
    offset: int = 0


@dataclass(frozen=True)
class CheckSpec:
    """A check on an asset's data. ``params`` is normalized per kind:

    row_count {min?, max?}; not_null {columns}; unique {columns}; accepted_values {column, values};
    accepted_range {column, min?, max?}; relationships {column, to, field};
    data_freshness {column, max_age (timedelta)}; sql {sql} (failing rows; ``{this}`` is the relation);
    python {python (a PythonRef), version}.
    """

    name: str
    kind: str
    params: Mapping[str, Any]
    severity: str = "error"
    description: str | None = None
    location: Location | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class FreshnessPolicy:
    """How old an output may get before it breaks its consumer contract.

    Either ``max_lag`` (age of the data) or ``cron`` (a deadline: at each cron tick in ``timezone``
    the asset must hold the period just ended); ``warn`` is the warn window: for max_lag, warn once
    the age passes ``max_lag - warn``; for a deadline, warn within ``warn`` before the next
    deadline while its requirement is not met yet. ``deadline`` keeps the text as written.
    """

    max_lag: timedelta | None = None
    cron: str | None = None
    deadline: str | None = None
    timezone: str = "UTC"
    warn: timedelta | None = None


@dataclass(frozen=True)
class Source:
    """Where a source asset's data comes from; duck observes it, never builds it.

    ``path`` is relative to the project root and may hold a glob, or the placeholder ``{key}``
    (aliases ``{date}``, ``{hour}``, ``{week}``, ``{month}``, ``{value}``) for one file per
    partition. ``table`` names an existing warehouse table instead.
    """

    path: str | None = None
    format: str = "csv"
    table: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)  # declared name -> DuckDB type
    observe: PythonRef | None = None  # a function returning {key: version} of the data available


@dataclass(frozen=True)
class PythonRef:
    """A function in a project file: ``path`` relative to the project root, ``function`` its name,
    ``version`` a hash of the file and of the project modules it imports."""

    path: str
    function: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.function}"


@dataclass(frozen=True)
class Materialize:
    """How an asset is built: a SELECT and a strategy (view, table, incremental by partition),
    or a Python function (``python``; ``sql`` is then empty) stopped after ``timeout``."""

    strategy: str
    sql: str
    sql_file: str | None = None
    python: PythonRef | None = None
    timeout: timedelta | None = None


@dataclass(frozen=True)
class Asset:
    """A named durable output in the graph, and its operational contract."""

    name: str
    kind: str  # source | table | view | ... (what it is; `materialize.strategy` says how it is built)
    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    deps: tuple[Dep, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    freshness: FreshnessPolicy | None = None
    materialize: Materialize | None = None
    partitions: PartitionsDef | None = None
    source: Source | None = None
    location: Location | None = None
    code_version: str = ""  # hash of the normalized SQL and the settings that shape the output
    reads: tuple[str, ...] = ()  # tables the SQL reads, from DuckDB's parser
    allow_empty: bool = False  # may a partition with rows be replaced by an empty one

    @property
    def is_files(self) -> bool:
        """Whether the asset is files a Python function writes (kind file), not a table."""
        return self.kind == "file"

    @property
    def is_source(self) -> bool:
        return self.source is not None

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(d.asset for d in self.deps)


@dataclass(frozen=True)
class Product:
    """A published, owned group of assets with its own freshness promise."""

    name: str
    owner: str | None = None
    description: str | None = None
    assets: tuple[str, ...] = ()
    freshness: FreshnessPolicy | None = None
    location: Location | None = None


@dataclass(frozen=True)
class Settings:
    """``duck.yaml``: where state lives and how DuckDB runs. Paths are absolute."""

    warehouse: Path
    catalog: Path
    threads: int | None = None
    memory_limit: str | None = None
    batch_size: int = 31  # adjacent partitions per statement in backfills
    jobs: int | None = None  # steps run side by side (None: runner.default_jobs())
    wait_seconds: float = 30.0
    paths: tuple[str, ...] = (".",)  # folders (relative to the project) holding manifests
    ignore: tuple[str, ...] = ()  # globs of files or folders that are not manifests
    extensions: tuple[str, ...] = ()  # DuckDB extensions to load (httpfs, postgres, ...)
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # values: env:VAR
    attach: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # source databases
    max_partitions: int = 100_000  # keys one partitions definition may have at the clock
    state_dsn: str | None = None  # state in PostgreSQL: a libpq conninfo or env:NAME (None: local)
    lake: Mapping[str, str] | None = None  # a DuckLake warehouse: catalog, data_path (None: local)


@dataclass(frozen=True)
class Project:
    """A validated project: its root, settings, assets (by name, sorted), products and warnings."""

    root: Path
    settings: Settings
    assets: Mapping[str, Asset]
    products: Mapping[str, Product] = field(default_factory=dict)
    warnings: tuple[Any, ...] = ()  # errors.Problem with severity "warning"
    manifest_files: tuple[str, ...] = ()


REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "az://", "azure://",
                  "abfss://", "http://", "https://", "hf://")


def is_remote(path: str | None) -> bool:
    """Whether a source path is a URL DuckDB reads through an extension (httpfs, azure).

    >>> is_remote("s3://bucket/x.csv"), is_remote("data/x.csv")
    (True, False)
    """
    return bool(path) and path.lower().startswith(REMOTE_SCHEMES)


def date_key(d: date) -> str:
    """The daily key of a date.

    >>> date_key(date(2026, 3, 1))
    '2026-03-01'
    """
    return d.isoformat()
