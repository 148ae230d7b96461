"""Reusable checks: ``check_definitions`` entries and the ``use`` checks that name them.

A use is resolved here, once every manifest is read: its params gain the definition's SQL and
parameters, and its ``with`` must give exactly those parameters. At run time the SQL becomes a
DuckDB table macro over the checked rows (`run/checks.py`); the values are bound, not pasted.
"""

from __future__ import annotations

from dataclasses import replace

from duck_cli.errors import Problem, did_you_mean
from duck_cli.models import Asset, CheckDefinition, CheckSpec
from duck_cli.manifest.sqlparse import SqlSyntaxError, parse_select


def resolve_uses(built) -> list[Problem]:
    """Fill in every use check of ``built.assets`` in place; the problems found."""
    problems = _definition_problems(built.check_definitions)
    known = {d.name: d for d in built.check_definitions}
    for index, asset in enumerate(built.assets):
        if isinstance(asset.checks, tuple) and not any(c.kind == "use" for c in asset.checks):
            continue  # nothing to resolve: the asset as it is (no copy of 10,000 assets)
        checks = []
        for check in asset.checks:
            if check.kind == "use":
                check, problem = _resolve(check, known, asset)
                problems += [problem] if problem else []
            checks.append(check)
        built.assets[index] = replace(asset, checks=tuple(checks))
    return problems


def _resolve(check: CheckSpec, known: dict[str, CheckDefinition],
             asset: Asset) -> tuple[CheckSpec, Problem | None]:
    name, args = check.params["definition"], check.params["args"]
    loc = check.location
    spot = (loc.file, loc.line) if loc else (None, None)
    definition = known.get(name)
    if definition is None:
        hint = did_you_mean(name, list(known)) or "Define it under check_definitions: in a manifest."
        return check, Problem(f"check '{check.name}' uses '{name}', which is not in "
                              "check_definitions", *spot, hint, asset.name)
    missing = [p for p in definition.parameters if p not in args]
    extra = [a for a in args if a not in definition.parameters]
    if missing or extra:
        what = (f"lacks parameter '{missing[0]}'" if missing
                else f"passes '{extra[0]}', which '{name}' does not take")
        return check, Problem(f"check '{check.name}' {what}", *spot,
                              f"'{name}' takes: {', '.join(definition.parameters) or 'nothing'} "
                              "(with: {...}).", asset.name)
    params = {**check.params, "sql": definition.sql, "parameters": list(definition.parameters)}
    return replace(check, params=params), None


def _definition_problems(definitions: list[CheckDefinition]) -> list[Problem]:
    problems, seen = [], set()
    for d in definitions:
        loc = d.location
        if d.name in seen:
            problems.append(Problem(f"check definition '{d.name}' is defined twice",
                                    loc.file, loc.line, "Keep one definition per name."))
        seen.add(d.name)
        try:
            parse_select(d.sql.replace("{this}", "__this__"))
        except SqlSyntaxError as err:
            problems.append(Problem(f"check definition '{d.name}': SQL syntax error: "
                                    f"{err.message}", loc.file, loc.line,
                                    "A check definition is one SELECT of the failing rows of "
                                    "{this}."))
    return problems
