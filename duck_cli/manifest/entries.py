"""Schema-valid manifest entries → models (Asset, Product), with the rules one entry can break alone.

Rules that need several assets (duplicates, deps, cycles, mappings) live in ``validate_rules``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from duck_cli.errors import Problem, did_you_mean
from duck_cli.manifest import python_entries
from duck_cli.manifest.read import line_of, plain, value_line
from duck_cli.models import (CHECK_KINDS, Asset, CheckDefinition, CheckSpec, Dep, FreshnessPolicy, Location, Materialize, PartitionsDef,
                     Product, Source, StaticPartitions, TimePartitions)
from duck_cli.manifest.settings import relative_inside
from duck_cli.manifest.strategies import contract_of, definition_of, stateful_options
from duck_cli.models import is_remote
from duck_cli.manifest.values import (check_timezone, deadline_cron, parse_duration, parse_partition_time,
                              placeholder_problem, timezone_hint)

_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_COMPRESSED = (".gz", ".zst", ".bz2", ".xz")


@dataclass(frozen=True)
class Spot:
    """A place in a manifest: file, document and JSON path (and the asset it belongs to)."""

    file: str
    doc: Any
    path: tuple[Any, ...]
    asset: str | None = None

    def at(self, *parts: Any) -> "Spot":
        """The spot of a value below this one."""
        return Spot(self.file, self.doc, self.path + parts, self.asset)

    @property
    def line(self) -> int:
        return line_of(self.doc, self.path)

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    def doc_at(self, sub: tuple[Any, ...] = ()) -> Any:
        """The raw value at this spot (plus ``sub``), or None."""
        node = self.doc
        for part in self.path + sub:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def problem(self, message: str, hint: str | None = None, severity: str = "error") -> Problem:
        """A problem at this spot."""
        return Problem(message, self.file, self.line, hint, self.asset, severity)


@dataclass(frozen=True)
class SqlOrigin:
    """Where an asset's SQL text starts: a file and the line of the SQL's first line."""

    file: str
    line: int


@dataclass
class Built:
    """What building produced: models, where each asset came from, the SQL files read, problems."""

    assets: list[Asset] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    check_definitions: list[CheckDefinition] = field(default_factory=list)
    spots: dict[str, Spot] = field(default_factory=dict)
    sql_origins: dict[str, SqlOrigin] = field(default_factory=dict)
    sql_files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class EntryBuilder:
    """Turns schema-valid asset and product mappings into models, collecting problems."""

    def __init__(self, root: Path):
        self.root = root
        self.out = Built()

    def error(self, spot: Spot, message: str, hint: str | None = None) -> None:
        """Record an error at ``spot``."""
        self.out.problems.append(spot.problem(message, hint))

    # assets ---------------------------------------------------------------------------------

    def asset(self, raw: dict[str, Any], spot: Spot) -> None:
        """Build one asset from its mapping."""
        spot = Spot(spot.file, spot.doc, spot.path, raw["name"])
        parts = self.partitions(raw.get("partitions"), spot.at("partitions"))
        source = self.source(raw, spot, parts) if "source" in raw else None
        materialize = self.materialize(raw, spot, parts) if "materialize" in raw else None
        self._kind_rules(raw, spot, source)
        python_entries.kind_rules(self, raw, spot)
        strategy = materialize.strategy if materialize else None
        kind = raw.get("kind") or ("source" if "source" in raw else ("view" if strategy == "view" else "table"))
        self.out.spots.setdefault(raw["name"], spot)
        self.out.assets.append(Asset(
            name=raw["name"], kind=kind, owner=raw.get("owner"), description=raw.get("description"),
            tags=tuple(raw.get("tags") or ()), deps=self.deps(raw.get("deps") or [], spot.at("deps")),
            checks=self.checks(raw.get("checks") or [], spot.at("checks")),
            freshness=self.freshness(raw.get("freshness"), spot.at("freshness")),
            materialize=materialize, partitions=parts, source=source, location=spot.location,
            allow_empty=bool(raw.get("allow_empty", False)), key=tuple(raw.get("key") or ()),
            schema=raw.get("schema") or "",  # "" until `validate.with_schemas` sets the default
            columns=contract_of(raw.get("columns") or [], spot.at("columns"), self.error)))

    def _kind_rules(self, raw: dict[str, Any], spot: Spot, source: Source | None) -> None:
        if raw.get("kind") == "source" and "source" not in raw:
            self.error(spot.at("kind"), "kind source needs a 'source'",
                       "Add source: {path: data/file.csv} or source: {table: schema.table}.")
        if "source" in raw and "materialize" in raw:
            self.error(spot.at("materialize"), "a source is observed, not built: it cannot have 'materialize'",
                       "Remove 'materialize', or remove 'source' to build the asset with SQL.")
        if "source" not in raw and "materialize" not in raw and raw.get("kind") != "source":
            self.error(spot, "has no SQL to build it",
                       "Add materialize with sql or sql_file, or make it a source with source: {path: <files>}.")

    def partitions(self, raw: dict[str, Any] | None, spot: Spot) -> PartitionsDef | None:
        """Time or static partitions."""
        if not raw:
            return None
        kind, body = next(iter(raw.items()))
        spot = spot.at(kind)
        if kind == "static":
            return StaticPartitions(tuple(body["values"]), body.get("column"))
        start = self._time(body["start"], kind, spot.at("start"))
        end = self._time(body["end"], kind, spot.at("end")) if "end" in body else None
        if start and end and start > end:
            self.error(spot.at("end"), f"the partitions end ({body['end']}) is before their start ({body['start']})",
                       "Swap start and end, or remove end to keep the partitions open-ended.")
        tz = self._timezone(body.get("timezone", "UTC"), spot.at("timezone"))
        return TimePartitions(kind, start or _EPOCH, end, tz, body.get("column"))

    def _time(self, text: str, granularity: str, spot: Spot) -> Any:
        try:
            return parse_partition_time(text, granularity)
        except ValueError as err:
            self.error(spot, str(err), 'Write a date as "YYYY-MM-DD" (hourly: "YYYY-MM-DDTHH:00").')
            return None

    def _timezone(self, name: str, spot: Spot) -> str:
        try:
            return check_timezone(name)
        except ValueError as err:
            self.error(spot, str(err), timezone_hint(name))
            return "UTC"

    def _duration(self, text: str, spot: Spot) -> Any:
        try:
            return parse_duration(text)
        except ValueError as err:
            self.error(spot, str(err), "Write a duration such as 90s, 15m, 26h, 2d, 1w or 1h30m.")
            return None

    def source(self, raw: dict[str, Any], spot: Spot, parts: PartitionsDef | None) -> Source:
        """A source: a path inside the project (relative to the manifest's folder) or a table."""
        body, spot = raw["source"], spot.at("source")
        options = plain(body.get("options") or {})
        columns = {str(k): str(v) for k, v in plain(body.get("columns") or {}).items()}
        if "table" in body:
            return Source(table=body["table"], format=body.get("format", "csv"), options=options,
                          columns=columns)
        if "observe" in body:
            return Source(observe=python_entries.python_ref(self, body["observe"], spot.at("observe")))
        path = self._source_path(body["path"], spot.at("path"), parts)
        fmt = body.get("format") or _format_of(body["path"].split("?", 1)[0])
        if fmt is None:
            self.error(spot.at("path"), f"cannot tell the format of '{body['path']}' from its extension",
                       "Add format: csv, parquet or json.")
        return Source(path=path, format=fmt or "csv", options=options, columns=columns)

    def _source_path(self, text: str, spot: Spot, parts: PartitionsDef | None) -> str:
        why = placeholder_problem(text, parts.kind if parts else None)
        if why:
            self.error(spot, why, _placeholder_hint(parts))
        if is_remote(text):  # a URL is read where it is (extensions: [httpfs] in duck.yaml)
            return text
        full = relative_inside(self.root, text, (self.root / spot.file).parent)
        if full is None:
            self.error(spot, f"the path '{text}' leaves the project folder",
                       "Keep source files inside the project folder (copy or link them in).")
            return text
        self._filled_paths_inside(text, spot, parts)
        return full.relative_to(self.root).as_posix()

    def _filled_paths_inside(self, text: str, spot: Spot, parts: PartitionsDef | None) -> None:
        """Each static value filled into the path must keep it inside the project folder."""
        if not isinstance(parts, StaticPartitions) or "{" not in text:
            return
        folder = (self.root / spot.file).parent
        for value in parts.values:
            filled = re.sub(r"\{(key|value)\}", lambda _m: value, text)
            if "\0" in value or not _stays_inside(self.root, filled, folder):
                self.error(spot, f"the static value '{value}' makes the path '{text}' leave the "
                           "project folder", "Partition values become file names: use plain "
                           "names (no '/', '..' or links out of the project).")
                return

    def materialize(self, raw: dict[str, Any], spot: Spot, parts: PartitionsDef | None) -> Materialize | None:
        """SQL (inline or from sql_file) and the strategy, with its default."""
        if "python" in raw["materialize"]:
            return python_entries.materialize(self, raw, spot, parts)
        body, asset_spot, spot = raw["materialize"], spot, spot.at("materialize")
        default = "incremental" if parts else ("view" if raw.get("kind") == "view" else "table")
        strategy = body.get("strategy", default)
        self._strategy_rules(strategy, parts, asset_spot, spot.at("strategy") if "strategy" in body else spot)
        options = stateful_options(body, strategy, spot, self.error)
        if "sql" in body:
            self.out.sql_origins[raw["name"]] = SqlOrigin(spot.file, value_line(spot.doc, spot.path + ("sql",)))
            return Materialize(strategy, body["sql"], **options)
        sql_file = self._sql_file(body["sql_file"], spot.at("sql_file"), raw["name"])
        return Materialize(strategy, sql_file[1], sql_file[0], **options) if sql_file else None

    def _strategy_rules(self, strategy: str, parts: PartitionsDef | None, asset: Spot, where: Spot) -> None:
        if strategy == "incremental" and parts is None:
            self.error(where, "strategy incremental needs partitions",
                       'Add partitions: {daily: {start: "2026-03-01", column: day}}, or use strategy: table.')
        elif strategy != "incremental" and parts is not None:
            self.error(where, f"a partitioned asset is built one partition at a time, not as a {strategy}",
                       "Use strategy: incremental, or remove partitions.")
        elif parts is not None and not parts.column:
            self.error(asset.at("partitions", parts.kind), f"strategy incremental needs the {parts.kind} partitions' 'column'",
                       f"Add column: <the column holding the partition> to partitions.{parts.kind}.")

    def _sql_file(self, text: str, spot: Spot, name: str) -> tuple[str, str] | None:
        folder = (self.root / spot.file).parent
        full = relative_inside(self.root, text, folder)
        if full is None or not _stays_inside(self.root, text, folder):
            self.error(spot, f"sql_file '{text}' leaves the project folder" + (
                " (it is a link to a file outside)" if full is not None else ""),
                       "Keep SQL files inside the project folder, next to the manifest.")
            return None
        if not full.is_file():
            near = did_you_mean(text, [p.name for p in folder.glob("*.sql")])
            self.error(spot, f"sql_file '{text}' does not exist",
                       near or f"Create it, or fix the path (relative to the manifest's folder, {_rel(folder, self.root)}).")
            return None
        rel = full.relative_to(self.root).as_posix()
        try:
            data = full.read_bytes()
            text_sql = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            why = err.strerror if isinstance(err, OSError) else "it is not UTF-8 text"
            self.error(spot, f"cannot read sql_file '{text}': {why}", "Save it as readable UTF-8 text.")
            return None
        self.out.sql_files[rel] = data
        self.out.sql_origins[name] = SqlOrigin(rel, 1)
        return rel, text_sql

    # deps, checks, freshness ------------------------------------------------------------------

    def deps(self, raw: list[Any], spot: Spot) -> tuple[Dep, ...]:
        """Deps as written; ``offset`` without ``mapping`` means mapping offset."""
        deps: list[Dep] = []
        for index, item in enumerate(raw):
            dep = self._dep(item, spot.at(index))
            if dep in deps:  # the same upstream twice is fine with different mappings (day over day)
                self.error(spot.at(index), f"lists '{dep.asset}' twice in deps with the same mapping",
                           "Keep one entry per upstream asset and mapping.")
            else:
                deps.append(dep)
        return tuple(deps)

    def _dep(self, item: Any, spot: Spot) -> Dep:
        if isinstance(item, str):
            return Dep(item)
        mapping = item.get("mapping", "offset" if "offset" in item else "auto")
        if mapping == "offset" and "offset" not in item:
            self.error(spot, "mapping offset needs an 'offset'", "For example: {asset: x, offset: -1} (the previous period).")
        if mapping != "offset" and "offset" in item:
            self.error(spot.at("offset"), f"'offset' only applies with mapping offset, not {mapping}",
                       "Remove 'mapping', or remove 'offset'.")
        return Dep(item["asset"], mapping, int(item.get("offset", 0)))

    def checks(self, raw: list[Any], spot: Spot) -> tuple[CheckSpec, ...]:
        """Checks with default names and normalized params; names are unique per asset."""
        checks: list[CheckSpec] = []
        for index, item in enumerate(raw):
            check = self._check(item, spot.at(index))
            if any(c.name == check.name for c in checks):
                self.error(spot.at(index), f"two checks are named '{check.name}'",
                           "Give one of them its own name: {name: <name>, <kind>: <params>}.")
            checks.append(check)
        return tuple(checks)

    def _check(self, item: dict[str, Any], spot: Spot) -> CheckSpec:
        kind = next(k for k in CHECK_KINDS if k in item)
        if "with" in item and kind != "use":
            self.error(spot.at("with"), "'with' passes parameters to a check from "
                       "check_definitions", "Add use: <definition>, or remove 'with'.")
        params = ({"definition": item["use"], "args": plain(item.get("with") or {})}
                  if kind == "use" else self._check_params(kind, item[kind], spot.at(kind)))
        return CheckSpec(item.get("name") or _check_name(kind, params), kind, params,
                         item.get("severity", "error"), item.get("description"), spot.location,
                         item.get("scope"))

    def _check_params(self, kind: str, body: Any, spot: Spot) -> dict[str, Any]:
        if kind in ("not_null", "unique"):
            return {"columns": [body] if isinstance(body, str) else list(body)}
        if kind == "sql":
            return {"sql": body}
        if kind == "python":
            return {"python": python_entries.python_ref(self, body, spot)}
        params = plain(body)
        if kind == "data_freshness":
            params["max_age"] = self._duration(body["max_age"], spot.at("max_age"))
        if "min" in params and "max" in params and params["min"] > params["max"]:
            self.error(spot.at("max"), f"max ({params['max']}) is below min ({params['min']})", "Swap min and max.")
        return params

    def freshness(self, raw: dict[str, Any] | None, spot: Spot) -> FreshnessPolicy | None:
        """A deadline (normalized to cron) or a maximum lag, and a warn window."""
        if raw is None:
            return None
        warn = self._duration(raw["warn"], spot.at("warn")) if "warn" in raw else None
        tz = self._timezone(raw.get("timezone", "UTC"), spot.at("timezone"))
        if "max_lag" in raw:
            lag = self._duration(raw["max_lag"], spot.at("max_lag"))
            if lag and warn and warn >= lag:
                self.error(spot.at("warn"), f"the warn window ({raw['warn']}) is not shorter than max_lag ({raw['max_lag']})",
                           "Warn some time before the lag is reached, e.g. max_lag: 26h, warn: 2h.")
            return FreshnessPolicy(max_lag=lag, timezone=tz, warn=warn)
        return FreshnessPolicy(cron=self._cron(raw["deadline"], spot.at("deadline")),
                               deadline=raw["deadline"], timezone=tz, warn=warn)

    def _cron(self, text: str, spot: Spot) -> str | None:
        try:
            return deadline_cron(text)
        except ValueError as err:
            self.error(spot, str(err), 'Write "HH:MM" (e.g. "07:00", daily) or a 5-field cron expression such as "0 7 * * 1-5".')
            return None

    def check_definition(self, raw: dict[str, Any], spot: Spot) -> None:
        """A reusable check; uses are resolved once every file is read (`resolve_uses`)."""
        self.out.check_definitions.append(definition_of(raw, spot.location))

    # products ---------------------------------------------------------------------------------

    def product(self, raw: dict[str, Any], spot: Spot) -> None:
        """Build one data product."""
        self.out.products.append(Product(
            name=raw["name"], owner=raw.get("owner"), description=raw.get("description"),
            assets=tuple(dict.fromkeys(raw["assets"])),
            freshness=self.freshness(raw.get("freshness"), spot.at("freshness")), location=spot.location))
        self.out.spots.setdefault("product:" + raw["name"], spot)


_EPOCH = parse_partition_time("1970-01-01", "daily")


def _check_name(kind: str, params: dict[str, Any]) -> str:
    column = params.get("column") or (params.get("columns") or [None])[0]
    return f"{kind}_{column}" if column and kind not in ("row_count", "sql") else kind


def _format_of(path: str) -> str | None:
    """The reader format from a path's extension (compression suffixes skipped).

    >>> _format_of("data/{date}.csv.gz"), _format_of("x/*.parquet"), _format_of("x.xlsx")
    ('csv', 'parquet', None)
    """
    suffixes = [s.lower() for s in PurePosixPath(path).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def _stays_inside(root: Path, text: str, folder: Path) -> bool:
    """Whether ``text`` (relative to ``folder``) stays inside ``root`` once symlinks are followed."""
    real, top = os.path.realpath(folder / text), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _placeholder_hint(parts: PartitionsDef | None) -> str:
    if parts is None:
        return "Add partitions to the source, or name one file (or a glob such as data/*.csv)."
    return "Use {key}, the partition key (or its alias for these partitions)."


def _rel(folder: Path, root: Path) -> str:
    return folder.relative_to(root).as_posix() if folder != root else "the project folder"

