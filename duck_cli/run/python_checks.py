"""Python checks: a function given the checked data as a DuckDB relation (and the context)
decides whether it passes; its result is a CheckResult like a SQL check's (severity too).

The function may return True/False; the failing rows (a relation, Arrow table or DataFrame);
or a dict ``{passed, observed, failing, message}`` where ``failing`` is a count or rows.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

from duck_cli.run.check_text import label
from duck_cli.run.checks import SAMPLE_SIZE, CheckResult
from duck_cli.run import python_asset
from duck_cli.run.python_result import RESULT, register, unregister
from duck_cli.run.python_call import Context, UserCodeError, call, load

Checker = Callable[..., CheckResult]


def context_of(b) -> Context:
    """The context of a step's Python checks (a Python asset's own, with its log); ``b`` is
    the step's build.Builder."""
    ctx = getattr(b, "python_context", None)
    return ctx if ctx is not None else python_asset.context(b)


def checker(s, asset, ctx: Context) -> Checker:
    """Runs ``asset``'s Python checks in session ``s`` with ``ctx`` as their context."""
    def run(spec, relation: str, where: str | None, params: dict) -> CheckResult:
        python_asset.relational()  # `duck check` runs no Python asset that would load it
        con = ctx.con
        sql = f"SELECT * FROM {relation}" + (f" WHERE {where}" if where else "")
        rel = con.sql(sql, params=params) if params and where else con.sql(sql)
        try:
            fn = load(s.project.root, spec.params["python"], s.python_functions, s.python_lock)
            value = call(fn, _arguments(fn, asset.name, ctx, rel), s.project.root, None)
            return _result(con, spec, value)
        except UserCodeError as err:
            return CheckResult(spec.name, spec.kind, spec.severity, False, None, 0,
                               f"{label(spec)}: {err.text}", ())
    return run


def _arguments(fn, asset_name: str, ctx: Context, rel) -> dict:
    """``context`` by name; the data as the parameter named after the asset, or the first other."""
    names = [n for n, p in inspect.signature(fn).parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    out = {"context": ctx} if "context" in names else {}
    data = asset_name if asset_name in names else next((n for n in names if n != "context"), None)
    if data is not None:
        out[data] = rel
    return out


def _result(con, spec, value: Any) -> CheckResult:
    """A CheckResult from what a check function returned."""
    if isinstance(value, bool):
        return _made(spec, value, None, 0 if value else 1, None, ())
    if isinstance(value, dict):
        failing, sample = _rows(con, value.get("failing"), spec.params["python"].function)
        passed = bool(value.get("passed", failing == 0))
        observed = value.get("observed")
        return _made(spec, passed, None if observed is None else str(observed),
                     failing if failing or passed else max(failing, 1), value.get("message"), sample)
    if value is None:
        raise UserCodeError(f"{spec.params['python'].function} returned None: return True/False, "
                            "the failing rows, or {passed, observed, failing, message}", "python")
    failing, sample = _rows(con, value, spec.params["python"].function)
    return _made(spec, failing == 0, f"{failing} failing rows", failing, None, sample)


def _rows(con, value: Any, function: str) -> tuple[int, tuple]:
    """How many failing rows, and a sample of them (``value`` is a count or rows)."""
    if value is None:
        return 0, ()
    if isinstance(value, int):
        return value, ()
    register(con, value, function)
    try:
        n = con.execute(f"SELECT count(*) FROM {RESULT}").fetchone()[0]
        rows = con.execute(f"SELECT to_json(r) FROM (SELECT * FROM {RESULT} LIMIT {SAMPLE_SIZE}) r").fetchall()
        return n, tuple(json.loads(r[0]) for r in rows)
    finally:
        unregister(con)


def _made(spec, passed: bool, observed: str | None, failing: int, message: str | None,
          sample: tuple) -> CheckResult:
    text = message or (f"{label(spec)} passed" if passed else f"{label(spec)} failed"
                       + (f": {observed}" if observed else ""))
    return CheckResult(spec.name, spec.kind, spec.severity, passed, observed, failing, text, sample)
