"""A Python asset's step: call the function with a context and its upstream relations, stage
what it returns, then audit and publish it exactly as a SQL step (``build.Builder``)."""

from __future__ import annotations

import inspect

from duck_cli.graph import partitions as parts
from duck_cli.graph.mapping import upstream_map
from duck_cli.models import Asset, TimePartitions
from duck_cli.records import RunStatus
from duck_cli.run import observers, python_process
from duck_cli.run.python_call import Context, TimeWindow, UserCodeError, call, load
from duck_cli.run.python_result import RESULT, register, unregister
from duck_cli.sql import quote_ident, slice_predicate



def run(b, started):
    """Build a Python asset's step (``b`` is its build.Builder); a StepResult either way."""
    b.python_log = b.python_context = b.python_folder = None
    try:
        return b.run_staged(started)
    except UserCodeError as err:
        b.wh.rollback()
        return failed(b, started, err)
    finally:
        python_process.remove(b.python_folder)


def failed(b, started, err: UserCodeError):
    """The step failed in user code: the error is the user's traceback (its log is kept too)."""
    return b.result(started, RunStatus.FAILED, None, [], err.text, err.kind)


def relational() -> None:
    """Load DuckDB's relational layer (``con.sql``, DuckDBPyRelation), which duck's own commands
    skip (duck_cli.engine): user code works with relations."""
    import duckdb  # noqa: F401 - its import adds the relational API to the engine's connections


def context(b, **extra) -> Context:
    """The context a step's function is given: partitions, their window, the run, a log."""
    a, keys = b.asset, list(b.keys)
    window = None
    if isinstance(a.partitions, TimePartitions) and keys:
        window = TimeWindow(parts.bounds(a.partitions, keys[0])[0], parts.bounds(a.partitions, keys[-1])[1])
    key = keys[0] if a.partitions is not None and keys else None
    ctx = Context(a.name, b.run_id, key, tuple(keys) if a.partitions is not None else (), window,
                  con=b.wh.con, **extra)
    b.python_log, b.python_context = ctx.log, ctx
    return ctx


def invoke(b, ctx: Context):
    """Call the asset's function with ``context`` and each upstream it names as a relation."""
    relational()
    a, s = b.asset, b.s
    fn = load(s.project.root, a.materialize.python, s.python_functions, s.python_lock)
    if a.materialize.isolation == "process":
        return in_process(b, ctx, fn)
    kwargs = arguments(fn, a, ctx, lambda dep: upstream_relation(b, dep))
    return call(fn, kwargs, s.project.root, a.materialize.timeout, on_timeout=b.wh.con.interrupt)


def in_process(b, ctx: Context, fn):
    """Call the function in a worker process, its upstream shipped as Parquet files (in
    ``b.python_folder``, which the step deletes when it ends)."""
    folder = b.python_folder = python_process.exchange_folder()
    kwargs = arguments(fn, b.asset, ctx, lambda deps: python_process.ship(
        upstream_relation(b, deps), folder, deps[0].asset))
    return python_process.invoke(b, ctx, fn, kwargs, folder)


def arguments(fn, asset: Asset, ctx: Context, relation) -> dict:
    """Keyword arguments by parameter name: ``context``, and each upstream asset by its name."""
    deps: dict = {}
    for d in asset.deps:  # one upstream under two mappings (today and yesterday) is one relation
        deps.setdefault(d.asset, []).append(d)
    params = inspect.signature(fn).parameters
    takes_all = any(p.kind == p.VAR_KEYWORD for p in params.values())
    out = {}
    for name, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name == "context":
            out[name] = ctx
        elif name in deps:
            out[name] = relation(deps[name])
        elif p.default is p.empty:
            raise UserCodeError(
                f"{fn.__name__} takes a parameter '{name}', which is neither 'context' nor an "
                f"upstream asset of {asset.name} (deps: {', '.join(deps) or 'none'}). Add "
                f"'{name}' to deps, or give the parameter a default", "python")
    if takes_all:
        out.update({n: relation(d) for n, d in deps.items() if n not in out})
    return out


def upstream_relation(b, deps: list):
    """The upstream asset (``deps``: its entries in deps) as a DuckDB relation: the partitions
    this step reads when the upstream is a partitioned table with a column, else all of it (a
    source's view is already only the step's files)."""
    up = b.s.project.assets[deps[0].asset]
    reads = [_read_keys(b, up, d) for d in deps]
    # a time upstream is read as one window, from the earliest partition mapped to the latest
    read = None if None in reads else sorted({k for r in reads for k in r})
    if up.is_source and up.source.observe:  # data outside duck: the versions it may read
        return observers.relation(b.wh.con, b.s, up, read or [])
    exposed = up.is_source and any(i.source.name == up.name for i in b.inputs)
    sql, params = f"SELECT * FROM {_relation(b, up, exposed)}", {}
    if read is not None and not up.is_source and getattr(up.partitions, "column", None):
        if not read:
            return b.wh.con.sql(f"{sql} WHERE false")
        pred, params = slice_predicate(up.partitions, parts.sql_params(up.partitions, read))
        sql += f" WHERE {pred}"
    return b.wh.con.sql(sql, params=params) if params else b.wh.con.sql(sql)


def _relation(b, up: Asset, exposed: bool) -> str:
    """Where the step reads ``up``: the temporary view of the step's files of a partitioned
    source, else its relation (this environment's copy when it built one)."""
    return f"temp.main.{quote_ident(up.name)}" if exposed else b.wh.reading(up.relation)


def _read_keys(b, up: Asset, dep) -> list[str] | None:
    """The upstream partitions the step reads (None: all of it)."""
    a = b.asset
    if a.partitions is None or up.partitions is None or dep.mapping == "all":
        return None
    up_keys = parts.partition_keys(up.partitions, b.s.clock())
    mapped = upstream_map(a.partitions, up.partitions, dep, list(b.keys), up_keys)
    return sorted({k for keys in mapped.values() for k in keys})


def stage(b) -> str:
    """Call the function and stage what it returns (the SQL step's ``stage``); its quoted name."""
    if b.asset.materialize.strategy == "table":  # published by renaming the stage
        return _stage_as(b, "TABLE", b.wh.relation(
            f"{b.asset.schema}.__duck_stage_{b.asset.name}"))  # beside it: renamed in place
    return stage_temp(b)


def stage_temp(b) -> str:
    """Call the function and stage what it returns in the TEMP table ``__duck_stage`` (a lake
    stages every step there: nothing in the lake is written before the publish)."""
    return _stage_as(b, "TEMP TABLE", quote_ident("__duck_stage"))


def _stage_as(b, kind: str, target: str) -> str:
    value = invoke(b, context(b))
    con = b.wh.con
    register(con, value, b.asset.materialize.python.function)
    try:
        con.execute(f"CREATE OR REPLACE {kind} {target} AS SELECT * FROM {RESULT}")
        return target
    finally:
        unregister(con)
