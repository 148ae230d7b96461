"""Variables (``vars:`` in duck.yaml, ``--var name=value``) and macros in the code version.

SQL reads a variable with DuckDB's own ``getvariable('name')``; duck binds every variable with
``SET VARIABLE`` in each session. A variable or a macro is part of the code version of exactly
the assets whose SQL reads or calls it, written into the version as ``v.NAME=HASH`` and
``m.NAME=HASH`` after the hash of the SQL, so a plan can say which one changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any, Iterable, Mapping

from duck_cli.errors import ManifestError, Problem, UsageError, did_you_mean
from duck_cli.models import Asset, Macro, Project
from duck_cli.manifest.macros import called

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GETVARIABLE = re.compile(r"getvariable\s*\(\s*'((?:[^']|'')*)'\s*\)", re.IGNORECASE)


def variables_read(sql: str) -> list[str]:
    """The variables a SQL text reads with getvariable('name'), sorted.

    >>> variables_read("select * from t where region = getvariable('region')")
    ['region']
    """
    return sorted({m.group(1).replace("''", "'") for m in _GETVARIABLE.finditer(sql)})


def annotate(asset: Asset, macros: list[Macro]) -> Asset:
    """The asset with the variables and macros its SQL (and its sql checks) use."""
    texts = [c.params["sql"] for c in asset.checks if c.kind == "sql"]
    if asset.materialize is not None:
        texts.append(asset.materialize.sql)
    sql = "\n".join(texts)
    reads = set(variables_read(sql))
    calls = called(sql, macros)
    for macro in macros:
        if macro.name in calls:
            reads |= set(variables_read(macro.sql))
    variables, macro_names = tuple(sorted(reads)), tuple(calls)
    if (variables, macro_names) == (asset.variables, asset.macros):
        return asset  # the usual case, none of either: no copy
    return replace(asset, variables=variables, macros=macro_names)


def parse_var(text: str) -> tuple[str, Any]:
    """One ``--var name=value``; the value is read as a YAML scalar (10, true, EU).

    >>> parse_var("region=EU"), parse_var("min_amount=10")
    (('region', 'EU'), ('min_amount', 10))
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not NAME.fullmatch(name):
        raise UsageError(f"--var '{text}' is not name=value",
                         hint="For example: --var region=EU (a letter or _ first, then letters, "
                              "digits or _).")
    import yaml  # only for --var: a cache hit imports no YAML parser

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if not isinstance(value, (str, int, float, bool)) or value is None:
        value = raw  # a list or mapping is not a DuckDB variable: keep the text
    return name, value


def bind(project: Project, overrides: Iterable[str] = ()) -> Project:
    """The project with --var values over duck.yaml's vars, and the code version of each asset
    that reads a variable or calls a macro extended by their hashes; ManifestError when an
    asset reads a variable that is not defined."""
    values = dict(project.settings.vars)
    values.update(parse_var(text) for text in overrides)
    macros = {m.name: m for m in project.macros}
    problems, assets = [], {}
    for name, asset in project.assets.items():
        missing = [v for v in asset.variables if v not in values]
        problems += [_undefined(asset, v, values) for v in missing]
        assets[name] = _versioned(asset, values, macros) if not missing else asset
    if problems:
        raise ManifestError(problems)
    if not values and not macros:
        return project
    return replace(project, assets=assets, settings=replace(project.settings, vars=values))


def _versioned(asset: Asset, values: Mapping[str, Any], macros: Mapping[str, Macro]) -> Asset:
    parts = [f"v.{v}={_short(json.dumps(values[v]))}" for v in asset.variables]
    parts += [f"m.{m}={_short(macros[m].sql)}" for m in asset.macros]
    if not parts:
        return asset
    kept = [p for p in asset.code_version.split(" ") if not p.startswith(("v.", "m."))]
    return replace(asset, code_version=" ".join([*kept, *parts]))  # the base, column parts


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _undefined(asset: Asset, name: str, values: Mapping[str, Any]) -> Problem:
    loc = asset.location
    hint = did_you_mean(name, list(values)) or (
        f"Define it in duck.yaml (vars: {{{name}: ...}}) or pass --var {name}=VALUE.")
    return Problem(f"reads variable '{name}' (getvariable('{name}')), which is not defined",
                   loc.file if loc else None, loc.line if loc else None, hint, asset.name)
