"""The domain, as frozen dataclasses: what the manifests say, after validation.

Dicts appear only at the YAML/JSON boundary; everything past ``validate`` works on these.
An unpartitioned asset has exactly one partition, the empty key ``""``.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, Union

UNPARTITIONED = ""  # the one partition key of an unpartitioned asset

TIME_GRANULARITIES = ("hourly", "daily", "weekly", "monthly")
STRATEGIES = ("view", "table", "incremental", "append", "merge", "snapshot")
STATEFUL = ("append", "merge", "snapshot")  # build on the table they published before
FULL_REFRESH = "full refresh (--force): the table is rebuilt from scratch"
SNAPSHOT_COLUMNS = ("valid_from", "valid_to", "is_current")
SEVERITIES = ("error", "warn")
CHECK_KINDS = ("row_count", "not_null", "unique", "accepted_values", "accepted_range",
               "relationships", "data_freshness", "sql", "use", "python")
# kinds whose answer depends on rows in other partitions: checked over the whole table by default
TABLE_SCOPED_KINDS = ("unique", "relationships", "sql", "use")
CHECK_SCOPES = ("table", "partition")


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
    use {definition, args, and once resolved: sql, parameters} (a check_definitions entry).
    python {python (a PythonRef), version}.
    """

    name: str
    kind: str
    params: Mapping[str, Any]
    severity: str = "error"
    description: str | None = None
    location: Location | None = None
    scope: str | None = None  # as written; see ``table_scoped``

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    @property
    def table_scoped(self) -> bool:
        """Whether the check looks at the whole table (on a partitioned asset), not one slice."""
        if self.scope is not None:
            return self.scope == "table"
        return self.kind in TABLE_SCOPED_KINDS


@dataclass(frozen=True)
class CheckDefinition:
    """A reusable check (``check_definitions``): a SELECT of failing rows of ``{this}``, made a
    DuckDB table macro with these parameters when used."""

    name: str
    parameters: tuple[str, ...]
    sql: str
    description: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an asset's contract: its name, DuckDB type (None: any), NOT NULL, words."""

    name: str
    type: str | None = None
    not_null: bool = False
    description: str | None = None
    location: Location | None = None


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
    """How an asset is built: a SELECT and a strategy (view, table, incremental by partition,
    append, merge, snapshot) with the stateful strategies' options, or a Python function
    (``python``; ``sql`` is then empty) stopped after ``timeout``."""

    strategy: str
    sql: str
    sql_file: str | None = None
    unique_key: tuple[str, ...] = ()  # merge, snapshot
    cursor: str | None = None  # append
    delete_when: str | None = None  # merge
    updated_at: str | None = None  # snapshot
    check_columns: tuple[str, ...] = ()  # snapshot
    hard_deletes: bool = False  # snapshot
    python: PythonRef | None = None
    timeout: timedelta | None = None
    isolation: str = "thread"  # thread | process: where the Python function runs


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
    columns: tuple[ColumnSpec, ...] = ()  # the column contract (empty: none declared)
    variables: tuple[str, ...] = ()  # DuckDB variables its SQL reads (getvariable('name'))
    macros: tuple[str, ...] = ()  # macros its SQL calls, directly or through other macros
    key: tuple[str, ...] = ()  # the columns that identify a row (duck diff); see `row_key`
    schema: str = "main"  # where its relation lives (production's name; see `sql.relation`)

    @property
    def is_files(self) -> bool:
        """Whether the asset is files a Python function writes (kind file), not a table."""
        return self.kind == "file"

    @property
    def is_source(self) -> bool:
        return self.source is not None

    @property
    def relation(self) -> str:
        """Its production relation as a reader names it: ``marts.orders``."""
        return f"{self.schema}.{self.name}"

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(d.asset for d in self.deps)

    @property
    def row_key(self) -> tuple[str, ...]:
        """The columns that identify a row: the declared ``key``, else a merge's or snapshot's
        ``unique_key``, else the first unique check's columns; () when none says."""
        if self.key:
            return self.key
        if self.materialize is not None and self.materialize.unique_key:
            return tuple(self.materialize.unique_key)
        return next((tuple(c.params["columns"]) for c in self.checks if c.kind == "unique"), ())


def evolve(asset: Asset, **changes) -> Asset:
    """``dataclasses.replace`` for an `Asset` (no ``__post_init__``, plain properties) at a
    fraction of its cost: validation changes each of 10,000 assets twice.

    >>> from dataclasses import replace
    >>> a = Asset("a", "table", "team:x")
    >>> evolve(a, schema="m").schema, a.schema, evolve(a, schema="m") == replace(a, schema="m")
    ('m', 'main', True)
    """
    unknown = changes.keys() - asset.__dict__.keys()
    if unknown:
        raise TypeError(f"Asset has no field(s) {', '.join(sorted(unknown))}")
    new = object.__new__(Asset)
    object.__setattr__(new, "__dict__", {**asset.__dict__, **changes})
    return new


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
    vars: Mapping[str, Any] = field(default_factory=dict)  # bound as DuckDB variables
    env: str = "prod"  # the environment (--env / DUCK_ENV): its tables, runs, materializations
    home: Path | None = None  # production's state folder (lock, extensions); None: catalog's
    preview_partitions: int = 3  # a preview builds the latest N partitions of what changed
    env_retention_days: int = 14  # `duck prune` drops environments older than this
    environments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # duck.yaml's
    schema: str = "main"  # the assets' default schema (duck.yaml ``schema``)
    schemas: Mapping[str, str] = field(default_factory=dict)  # folder -> its assets' schema
    asset_schemas: tuple[str, ...] = ("main",)  # every schema an asset lives in (the project's)

    @property
    def state_dir(self) -> Path:
        """The folder every environment shares: the write lock, downloaded extensions."""
        return self.home or self.catalog.parent


RESERVED_SCHEMAS = ("temp", "information_schema", "pg_catalog")  # DuckDB's own


def schema_name_ok(name: object) -> bool:
    """Whether an asset may live in schema ``name``: lower-case letters, digits and '_', no
    '__' (an environment's copy is '<schema>__<env>'), not one of DuckDB's own.

    >>> schema_name_ok('marts'), schema_name_ok('a__b'), schema_name_ok('_duck'), schema_name_ok('temp')
    (True, False, False, False)
    """
    return isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None and \
        "__" not in name and name not in RESERVED_SCHEMAS and len(name) <= 63


@dataclass(frozen=True)
class Macro:
    """A DuckDB macro from ``macros/*.sql``: its name, CREATE statement and where it is."""

    name: str
    sql: str
    file: str
    line: int


@dataclass(frozen=True)
class Project:
    """A validated project: its root, settings, assets (by name, sorted), products and warnings."""

    root: Path
    settings: Settings
    assets: Mapping[str, Asset]
    products: Mapping[str, Product] = field(default_factory=dict)
    warnings: tuple[Any, ...] = ()  # errors.Problem with severity "warning"
    manifest_files: tuple[str, ...] = ()
    macros: tuple[Macro, ...] = ()  # created in every session, in this order


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
