"""The SQL stage: parse every SELECT, compare tables read with deps, compute code versions."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from duck_cli.errors import Problem, did_you_mean
from duck_cli.code_version import contract_part, schema_part
from duck_cli.models import STATEFUL, Asset, PartitionsDef, StaticPartitions, evolve
from duck_cli.manifest.sqlparse import ParsedSQL, Parses, SqlSyntaxError, parse_select
from duck_cli.manifest.entries import Built, SqlOrigin
from duck_cli.manifest.rules import dep_spot

PARAMETERS = ("partition_start", "partition_end", "partition_key")


@dataclass
class SqlResult:
    """Assets with reads and code versions filled in, errors and warnings."""

    assets: list[Asset] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def sql_stage(built: Built, parses: Parses | None = None) -> SqlResult:
    """Parse each asset's SQL and check SQL; warn where reads and deps disagree. ``parses``
    may have started on the assets' SQL already (`sql_texts`)."""
    result = SqlResult()
    tables = _table_index(built.assets)
    checks = [_check_text(c) for a in built.assets for c in _sql_checks(a)]
    parsed_sql = (parses or Parses()).result(sql_texts(built, built.assets) + checks)
    for asset in built.assets:
        parsed = _parse_asset(asset, built, result.errors, parsed_sql)
        result.errors += _check_sql_problems(asset, parsed_sql)
        if parsed is not None:
            result.errors += _parameter_problems(asset, parsed, built)
            result.errors += _schema_errors(asset, parsed, built)
            result.warnings += _reads_warnings(asset, parsed, tables, built) + _unfiltered(asset, parsed, built)
        reads = parsed.tables if parsed else ()
        result.assets.append(evolve(asset, reads=reads, code_version=code_version(asset, parsed)))
    return result


def sql_texts(built: Built, assets: list[Asset]) -> list[str]:
    """The materialization SQL of those of ``assets`` that have one to parse."""
    return [a.materialize.sql for a in assets if _has_sql(a, built)]


def _has_sql(asset: Asset, built: Built) -> bool:
    """Whether the asset has a materialization SQL (that validation has located) to parse."""
    return asset.materialize is not None and asset.name in built.sql_origins


def _sql_checks(asset: Asset) -> list:
    return [c for c in asset.checks if c.kind == "sql"]


def _check_text(check) -> str:
    """A sql check's SELECT as the parser reads it ({this} stands for the checked table)."""
    return check.params["sql"].replace("{this}", "__this__")


def _parse_asset(asset: Asset, built: Built, errors: list[Problem],
                 parsed_sql: dict[str, str]) -> ParsedSQL | None:
    if not _has_sql(asset, built):
        return None
    try:
        return parse_select(asset.materialize.sql, parsed_sql)
    except SqlSyntaxError as err:
        errors.append(_syntax_problem(err, built.sql_origins[asset.name], asset.name))
        return None


def _syntax_problem(err: SqlSyntaxError, origin: SqlOrigin, asset: str) -> Problem:
    line = origin.line + (err.line or 1) - 1
    if err.hint:  # not a SELECT, or several statements
        return Problem(err.message, origin.file, line, err.hint, asset)
    where = f" (column {err.column})" if err.column else ""
    return Problem(f"SQL syntax error: {err.message}{where}", origin.file, line,
                   "Fix the SQL; DuckDB's parser points at the first token it could not read.", asset)


def _check_sql_problems(asset: Asset, parsed_sql: dict[str, str]) -> list[Problem]:
    problems = []
    for check in _sql_checks(asset):
        try:
            parse_select(_check_text(check), parsed_sql)
        except SqlSyntaxError as err:
            loc = check.location
            problems.append(Problem(f"check '{check.name}': SQL syntax error: {err.message}",
                                    loc.file if loc else None, loc.line if loc else None,
                                    "A sql check is one SELECT returning the failing rows; {this} is the checked table.",
                                    asset.name))
    return problems


def _parameter_problems(asset: Asset, parsed: ParsedSQL, built: Built) -> list[Problem]:
    origin = built.sql_origins[asset.name]
    unknown = [p for p in parsed.parameters if p not in PARAMETERS]
    if unknown:
        return [Problem(f"the SQL uses parameter ${unknown[0]}, which duck does not bind", origin.file,
                        origin.line, "Use $partition_start, $partition_end or $partition_key.", asset.name)]
    if parsed.parameters and asset.partitions is None:
        return [Problem(f"the SQL uses ${parsed.parameters[0]} but the asset is not partitioned",
                        origin.file, origin.line, "Add partitions, or remove the parameter.", asset.name)]
    return []


def _unfiltered(asset: Asset, parsed: ParsedSQL, built: Built) -> list[Problem]:
    """An incremental asset whose SQL ignores the partition would build every slice from all data."""
    if asset.materialize.strategy != "incremental" or parsed.parameters:
        return []
    column = getattr(asset.partitions, "column", None) or "<column>"
    return [_warn(built.sql_origins[asset.name], asset,
                  "is built one partition at a time, but its SQL uses none of $partition_start, "
                  "$partition_end, $partition_key",
                  f"Filter to one partition, e.g. where {column} >= $partition_start and {column} < $partition_end.")]


def _table_index(assets: list[Asset]) -> dict[str, str]:
    """Table names (lowercase) that stand for assets: the name, main.name, a source's table."""
    index: dict[str, str] = {}
    for asset in assets:
        index[asset.name.lower()] = asset.name
        index[asset.relation.lower()] = asset.name
        if asset.source is not None and asset.source.table:
            index[asset.source.table.lower()] = asset.name
    return index


def _reads_warnings(asset: Asset, parsed: ParsedSQL, tables: dict[str, str], built: Built) -> list[Problem]:
    origin = built.sql_origins[asset.name]
    declared = set(asset.upstream)
    warnings, read_assets = [], set()
    for table in parsed.tables:
        wrong = _misplaced(table, built)
        name = wrong.name if wrong is not None else _asset_of(table, tables)
        read_assets.add(name)
        if wrong is not None:
            continue  # an error of its own (`_schema_errors`)
        if name is None:
            hint = did_you_mean(table, [a.name for a in built.assets]) or \
                "Declare it as a source asset (source: {table: <name>}) and add it to deps, so duck tracks it."
            warnings.append(_warn(origin, asset, f"reads table '{table}' which is not declared in deps", hint))
        elif name not in declared and name != asset.name:
            warnings.append(_warn(origin, asset, f"reads asset '{name}' but does not list it in deps",
                                  f"Add it to deps, so duck builds '{name}' before '{asset.name}'."))
    for dep in asset.deps:
        if dep.asset not in read_assets:
            spot = dep_spot(built.spots[asset.name], dep.asset)
            warnings.append(spot.problem(f"lists '{dep.asset}' in deps but its SQL does not read it",
                                         "Remove it from deps, or read it in the SQL.", severity="warning"))
    return warnings


def _asset_of(table: str, tables: dict[str, str]) -> str | None:
    """The asset a read names: by its own name or ``schema.name`` (``db.schema.name`` too)."""
    found = tables.get(table.lower())
    if found is None and table.count(".") == 2:
        found = tables.get(table.lower().split(".", 1)[1])
    return found


def _misplaced(table: str, built: Built) -> Asset | None:
    """The asset a qualified read names in a schema it does not live in (None if it is right,
    unqualified, or a source's own table)."""
    if "." not in table or any(a.source is not None and (a.source.table or "").lower() ==
                               table.lower() for a in built.assets):
        return None
    parts = table.lower().split(".")
    for asset in built.assets:
        if asset.name.lower() == parts[-1]:
            return asset if asset.schema.lower() != parts[-2] else None
    return None


def _schema_errors(asset: Asset, parsed: ParsedSQL, built: Built) -> list[Problem]:
    """A read of an asset under a schema it does not live in (DuckDB would not find it, or
    would find some other table): an error at the line that names it."""
    origin, problems = built.sql_origins[asset.name], []
    for table in parsed.tables:
        other = _misplaced(table, built)
        if other is not None:
            line = origin.line + _read_line(asset.materialize.sql, table) - 1
            problems.append(Problem(
                f"reads '{table}', but asset '{other.name}' lives in schema {other.schema}",
                origin.file, line, f"Read it as {other.relation} (or {other.name}).", asset.name))
    return problems


def _read_line(sql: str, table: str) -> int:
    r"""The 1-based line of ``sql`` that names ``table`` (dotted, any spacing or quoting).

    >>> _read_line("select *\nfrom staging . orders", "staging.orders")
    2
    """
    pattern = r"\s*\.\s*".join(rf'"?{re.escape(p)}"?' for p in table.split("."))
    found = re.search(pattern, sql, re.IGNORECASE)
    return sql[:found.start()].count("\n") + 1 if found else 1


def _warn(origin: SqlOrigin, asset: Asset, message: str, hint: str) -> Problem:
    return Problem(message, origin.file, origin.line, hint, asset.name, "warning")


def code_version(asset: Asset, parsed: ParsedSQL | None) -> str:
    """A hash of what shapes the output: the normalized SQL, strategy, partition shape, source."""
    payload: dict[str, Any] = {"partitions": partition_shape(asset.partitions)}
    if asset.materialize is not None:
        payload["sql"] = parsed.normalized if parsed else asset.materialize.sql
        payload["strategy"] = asset.materialize.strategy
        if asset.materialize.strategy in STATEFUL:
            m = asset.materialize
            payload["options"] = [m.unique_key, m.cursor, m.delete_when, m.updated_at,
                                  m.check_columns, m.hard_deletes]
        if asset.materialize.python is not None:  # the function's module and what it imports
            payload["python"] = asdict(asset.materialize.python)
    if asset.source is not None:
        payload["source"] = asdict(asset.source)
    text = json.dumps(_stable(payload), sort_keys=True, separators=(",", ":"), default=repr)
    base = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    # the contract shapes the output (descriptions do not): one part per column, so a plan
    # can tell an added nullable column (downstream kept) from a breaking change
    return " ".join([base, *schema_part(asset.schema),
                     *(contract_part(c.name, c.type, c.not_null) for c in asset.columns)])


def _stable(value: Any) -> Any:
    """JSON-ready data with string keys (YAML allows other keys in source options)."""
    if isinstance(value, dict):
        return {str(k): _stable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


def partition_shape(parts: PartitionsDef | None) -> dict[str, Any] | None:
    """What of a partitions definition shapes each partition's data (not its range: extending
    ``end`` or adding a static value must not change the version of partitions already built).

    >>> partition_shape(StaticPartitions(("A", "B"), "region"))
    {'kind': 'static', 'column': 'region'}
    """
    if parts is None:
        return None
    if isinstance(parts, StaticPartitions):
        return {"kind": "static", "column": parts.column}
    return {"kind": parts.granularity, "timezone": parts.timezone, "column": parts.column}
