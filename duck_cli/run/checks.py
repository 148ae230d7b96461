"""Checks: validations of an asset's data, as SQL selecting the failing rows, and their results.

``check_sql`` turns a CheckSpec into one SELECT of the failing rows (or keys) with its
parameters; ``run_checks`` runs them on a DuckDB connection and returns one CheckResult per
check. Identifiers are quoted and values bound as parameters, never pasted into the SQL.

Choices: NULLs pass every check but ``not_null`` (``unique`` ignores keys holding a NULL, as an
SQL UNIQUE constraint does); ``accepted_range`` bounds are inclusive; ``row_count`` and
``data_freshness`` fail with one aggregate row (so ``failing`` is 1). ``data_freshness``
compares epochs: a DATE counts as its midnight UTC and a TIMESTAMP without time zone as UTC.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

from duck_cli.errors import did_you_mean
from duck_cli.models import CheckSpec
from duck_cli.records import CheckRecord
from duck_cli.sql import quote_ident
from duck_cli.run.check_text import jsonable, label, message_text, observed_text, one_line

if TYPE_CHECKING:
    from duck_cli.engine import duckdb

SAMPLE_SIZE = 5
UTC = timezone.utc


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one relation."""

    name: str
    kind: str
    severity: str
    passed: bool
    observed: str | None  # e.g. "0 rows", "3 duplicate keys", "max 2026-03-12 23:10 UTC"
    failing: int  # failing rows (keys for unique; 1 for a failed row_count or data_freshness)
    message: str
    sample: tuple[dict, ...] = ()  # at most SAMPLE_SIZE failing rows, JSON-friendly values

    @property
    def blocking(self) -> bool:
        """Whether this result stops a publish: a failed check of severity error."""
        return self.severity == "error" and not self.passed

    def to_json(self) -> dict:
        """The result as JSON-ready data."""
        return {"name": self.name, "kind": self.kind, "severity": self.severity,
                "passed": self.passed, "blocking": self.blocking, "observed": self.observed,
                "failing": self.failing, "message": self.message, "sample": list(self.sample)}


class _Ctx(NamedTuple):
    reference: datetime | None
    table_of: Callable[[str], str]


def check_sql(spec: CheckSpec, relation: str, where: str | None = None, *,
              reference: datetime | None = None,
              table_of: Callable[[str], str] = quote_ident) -> tuple[str, dict]:
    """The SELECT of a check's failing rows in ``relation`` (within ``where``), and its parameters.

    ``reference`` is the time data_freshness measures from; ``table_of`` maps an asset name to
    its relation (for relationships).

    >>> check_sql(CheckSpec("c", "not_null", {"columns": ["a"]}), '"t"', "b > $lo")
    ('SELECT * FROM "t" WHERE (b > $lo) AND ("a" IS NULL)', {})
    """
    build = _BUILDERS.get(spec.kind)
    if build is None:
        raise ValueError(f"unknown check kind '{spec.kind}'")
    return build(spec.params, relation, where, _Ctx(reference, table_of))


def run_checks(con: duckdb.DuckDBPyConnection, specs: Sequence[CheckSpec], relation: str, *,
               where: str | None = None, params: Mapping[str, Any] | None = None,
               now: datetime, reference_time: datetime | None = None,
               table_of: Callable[[str], str] = quote_ident,
               python: Callable[..., CheckResult] | None = None) -> list[CheckResult]:
    """Run checks on ``relation`` or the slice ``where`` selects; SQL errors give failed results.
    ``python(spec, relation, where, params)`` runs the Python checks (run.python_checks)."""
    from duck_cli.engine import duckdb  # the connection's own module, already loaded: needed to catch its errors

    ctx = _Ctx(min(now, reference_time) if reference_time else now, table_of)
    columns = _columns(con, relation, dict(params or {})) if specs else None
    out = []
    for spec in specs:
        if spec.kind == "python":
            out.append(python(spec, relation, where, dict(params or {})) if python else
                       _errored(spec, "a Python check needs its project's session"))
            continue
        try:
            out.append(_run_one(con, spec, relation, where, dict(params or {}), ctx, columns))
        except (duckdb.Error, ValueError) as err:
            out.append(_errored(spec, one_line(str(err))))
    return out


def check_records(results, next_seq: Callable[[], int], *, run_id: str | None, step: int | None,
                  at: datetime, stage: str) -> list[CheckRecord]:
    """The catalog records of (asset, partition, CheckResult) triples: ``stage`` is audit
    (staged data, before publish) or published (``duck check``)."""
    return [CheckRecord(next_seq(), run_id, step, asset, key, r.name, r.kind, r.severity,
                        r.passed, r.observed, r.failing, r.message,
                        json.dumps(list(r.sample), default=str), at, stage)
            for asset, key, r in results]


# -- SQL per kind -----------------------------------------------------------------------------


def _filter(*predicates: str | None) -> str:
    """A WHERE clause ANDing the given predicates (empty if none).

    >>> _filter(None, '"a" IS NULL')
    ' WHERE ("a" IS NULL)'
    """
    parts = [f"({p})" for p in predicates if p]
    return " WHERE " + " AND ".join(parts) if parts else ""


def _outside(expr: str, p: Mapping[str, Any]) -> tuple[str, dict]:
    """A predicate true when ``expr`` is outside the inclusive bounds min/max (bound as parameters).

    >>> _outside('"x"', {"min": 0})
    ('"x" < $chk_min', {'chk_min': 0})
    """
    conds, params = [], {}
    if p.get("min") is not None:
        conds.append(f"{expr} < $chk_min")
        params["chk_min"] = p["min"]
    if p.get("max") is not None:
        conds.append(f"{expr} > $chk_max")
        params["chk_max"] = p["max"]
    return " OR ".join(conds) or "false", params


def _row_count(p: Mapping[str, Any], rel: str, where: str | None, ctx: _Ctx) -> tuple[str, dict]:
    cond, params = _outside("row_count", p)
    return f"SELECT row_count FROM ({_observe_count(rel, where)}) WHERE {cond}", params


def _observe_count(rel: str, where: str | None) -> str:
    return f"SELECT count(*) AS row_count FROM {rel}{_filter(where)}"


def _not_null(p: Mapping[str, Any], rel: str, where: str | None, ctx: _Ctx) -> tuple[str, dict]:
    nulls = " OR ".join(f"{quote_ident(c)} IS NULL" for c in p["columns"])
    return f"SELECT * FROM {rel}{_filter(where, nulls)}", {}


def _unique(p: Mapping[str, Any], rel: str, where: str | None, ctx: _Ctx) -> tuple[str, dict]:
    cols = ", ".join(quote_ident(c) for c in p["columns"])
    present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in p["columns"])
    return (f"SELECT {cols}, count(*) AS duplicate_rows FROM {rel}{_filter(where, present)} "
            f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY {cols}"), {}


def _accepted_values(p: Mapping[str, Any], rel: str, where: str | None,
                     ctx: _Ctx) -> tuple[str, dict]:
    col = quote_ident(p["column"])
    params = {f"chk_v{i}": v for i, v in enumerate(p["values"])}
    other = f"{col} NOT IN ({', '.join('$' + k for k in params)})" if params else "true"
    return f"SELECT * FROM {rel}{_filter(where, f'{col} IS NOT NULL', other)}", params


def _accepted_range(p: Mapping[str, Any], rel: str, where: str | None,
                    ctx: _Ctx) -> tuple[str, dict]:
    col = quote_ident(p["column"])
    cond, params = _outside(col, p)
    return f"SELECT * FROM {rel}{_filter(where, f'{col} IS NOT NULL', cond)}", params


def _relationships(p: Mapping[str, Any], rel: str, where: str | None,
                   ctx: _Ctx) -> tuple[str, dict]:
    col, field = quote_ident(p["column"]), quote_ident(p["field"])
    orphan = (f"NOT EXISTS (SELECT 1 FROM {ctx.table_of(p['to'])} AS __duck_parent "
              f"WHERE __duck_parent.{field} = __duck_child.{col})")
    return (f"SELECT __duck_child.* FROM {rel} AS __duck_child"
            f"{_filter(where, f'__duck_child.{col} IS NOT NULL', orphan)}"), {}


def _data_freshness(p: Mapping[str, Any], rel: str, where: str | None,
                    ctx: _Ctx) -> tuple[str, dict]:
    if ctx.reference is None:
        raise ValueError("a data_freshness check needs a reference time")
    cutoff = (ctx.reference - p["max_age"]).timestamp()
    return (f"SELECT * FROM ({_observe_max(p['column'], rel, where)}) "
            "WHERE max_epoch IS NULL OR max_epoch < $chk_cutoff"), {"chk_cutoff": cutoff}


def _observe_max(column: str, rel: str, where: str | None) -> str:
    col = quote_ident(column)
    return (f"SELECT CAST(max({col}) AS VARCHAR) AS max_value, epoch(max({col})) AS max_epoch, "
            f"typeof(max({col})) AS max_type FROM {rel}{_filter(where)}")


def _custom(p: Mapping[str, Any], rel: str, where: str | None, ctx: _Ctx) -> tuple[str, dict]:
    this = f"(SELECT * FROM {rel}{_filter(where)})" if where else rel
    return _without_final_semicolon(p["sql"]).replace("{this}", this), {}


def _without_final_semicolon(sql: str) -> str:
    """The statement without its closing ``;`` (and comments after it): it becomes a subquery.

    >>> _without_final_semicolon("SELECT 1; -- done\\n")
    'SELECT 1'
    """
    return _FINAL_SEMICOLON.sub("", sql.strip()).strip()


_FINAL_SEMICOLON = re.compile(r";(?:\s|--[^\n]*)*\Z")


def _use(p: Mapping[str, Any], rel: str, where: str | None, ctx: _Ctx) -> tuple[str, dict]:
    """A check definition's table macro over the checked rows (the CTE it reads as {this})."""
    args = {f"chk_a{i}": p["args"][name] for i, name in enumerate(p["parameters"])}
    call = ", ".join("$" + k for k in args)
    return (f"WITH {THIS} AS (SELECT * FROM {rel}{_filter(where)}) "
            f"SELECT * FROM {quote_ident(_macro_name(p))}({call})"), args


def define_macro(con: duckdb.DuckDBPyConnection, spec: CheckSpec, relation: str,
                 where: str | None, params: Mapping[str, Any]) -> None:
    """Create a use check's table macro, bound against an empty table shaped like the checked
    rows (DuckDB binds a macro's body when it is created; a use reads the rows as a CTE)."""
    p = spec.params
    shape = f"SELECT * FROM {relation}{_filter(where)} LIMIT 0"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {THIS} AS {shape}", _used(params, shape))
    body = _without_final_semicolon(p["sql"]).replace("{this}", THIS)
    args = ", ".join(quote_ident(x) for x in p["parameters"])
    try:
        con.execute(f"CREATE OR REPLACE TEMP MACRO {quote_ident(_macro_name(p))}({args}) "
                    f"AS TABLE {body}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {THIS}")


def _macro_name(p: Mapping[str, Any]) -> str:
    return f"__duck_check_{p['definition']}"


THIS = "__duck_this"


_BUILDERS = {"use": _use, "row_count": _row_count, "not_null": _not_null, "unique": _unique,
             "accepted_values": _accepted_values, "accepted_range": _accepted_range,
             "relationships": _relationships, "data_freshness": _data_freshness, "sql": _custom}


# -- running ----------------------------------------------------------------------------------


def _run_one(con: duckdb.DuckDBPyConnection, spec: CheckSpec, relation: str, where: str | None,
             params: dict, ctx: _Ctx, columns: list[str] | None) -> CheckResult:
    problem = _unknown_column(spec, relation, columns)
    if problem:
        return _errored(spec, problem)
    if spec.kind == "use":
        define_macro(con, spec, relation, where, params)
    sql, bound = check_sql(spec, relation, where, reference=ctx.reference, table_of=ctx.table_of)
    failing, sample = _failing(con, sql, {**_used(params, sql), **bound})
    value = _observation(con, spec, relation, where, params, sample)
    observed = observed_text(spec, failing, value)
    message = message_text(spec, observed, failing, sample, value, ctx.reference)
    return CheckResult(spec.name, spec.kind, spec.severity, failing == 0, observed, failing,
                       message, sample)


def _failing(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> tuple[int, tuple]:
    """How many rows ``sql`` selects, and the first few as JSON-friendly dicts: one query."""
    # to_json keeps numbers as numbers and renders every other type (TIMESTAMPTZ too) as text
    query = (f"WITH __duck_failing AS (\n{sql}\n) "
             "SELECT (SELECT count(*) FROM __duck_failing), to_json(__duck_row) "
             f"FROM (SELECT * FROM __duck_failing LIMIT {SAMPLE_SIZE}) AS __duck_row")
    rows = con.execute(query, params).fetchall()
    return (rows[0][0] if rows else 0), tuple(jsonable(json.loads(r[1])) for r in rows)


def _observation(con: duckdb.DuckDBPyConnection, spec: CheckSpec, relation: str,
                 where: str | None, params: dict, sample: tuple) -> Any:
    """row_count's count or data_freshness's max row (the failing row, or queried when passing)."""
    if spec.kind not in ("row_count", "data_freshness"):
        return None
    if sample:
        return sample[0]
    sql = (_observe_count(relation, where) if spec.kind == "row_count"
           else _observe_max(spec.params["column"], relation, where))
    _, rows = _failing(con, sql, _used(params, sql))
    return rows[0]


def _used(params: Mapping[str, Any], sql: str) -> dict:
    """The parameters ``sql`` refers to (DuckDB rejects extra ones).

    >>> _used({"partition_key": "eu", "partition_start": 1}, 'WHERE "r" = $partition_key')
    {'partition_key': 'eu'}
    """
    return {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", sql)}


def _columns(con: duckdb.DuckDBPyConnection, relation: str,
             params: Mapping[str, Any]) -> list[str] | None:
    """The relation's column names, or None if it cannot be read (each check then reports why)."""
    from duck_cli.engine import duckdb

    sql = f"SELECT * FROM {relation} LIMIT 0"
    try:
        return [d[0] for d in con.execute(sql, _used(params, sql)).description]
    except duckdb.Error:
        return None


def _unknown_column(spec: CheckSpec, relation: str, columns: list[str] | None) -> str | None:
    """A message for a column the check names that the relation lacks, else None."""
    # checked before any SQL runs: a failing statement aborts the caller's open transaction
    if columns is None or spec.kind not in _COLUMNS_OF:
        return None
    known = {c.lower() for c in columns}
    for name in _COLUMNS_OF[spec.kind](spec.params):
        if name.lower() not in known:
            hint = did_you_mean(name, columns)
            tail = f"; {hint}" if hint else ""
            return f"{label(spec)}: no column '{name}' in {relation}{tail}"
    return None


_COLUMNS_OF: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "not_null": lambda p: list(p["columns"]), "unique": lambda p: list(p["columns"]),
    "accepted_values": lambda p: [p["column"]], "accepted_range": lambda p: [p["column"]],
    "relationships": lambda p: [p["column"]], "data_freshness": lambda p: [p["column"]]}


# -- describing results -----------------------------------------------------------------------


def _errored(spec: CheckSpec, text: str) -> CheckResult:
    """A check that could not run: failed, with the error as its message."""
    message = text if text.startswith(label(spec)) else f"{label(spec)}: {text}"
    return CheckResult(spec.name, spec.kind, spec.severity, False, None, 0, message, ())
