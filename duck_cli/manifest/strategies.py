"""Modelling options of an asset entry: the stateful strategies' options (append, merge,
snapshot) and their rules, the column contract, and a reusable check's definition."""

from __future__ import annotations

from typing import Any, Callable

from duck_cli.models import SNAPSHOT_COLUMNS, CheckDefinition, ColumnSpec, Location

_OPTIONS = {"unique_key": ("merge", "snapshot"), "cursor": ("append",),
            "delete_when": ("merge",), "updated_at": ("snapshot",),
            "check_columns": ("snapshot",), "hard_deletes": ("snapshot",)}


def stateful_options(body: dict[str, Any], strategy: str, spot, error: Callable) -> dict:
    """Materialize's keyword arguments for a strategy's options; errors through ``error``."""
    for option, strategies in _OPTIONS.items():
        if option in body and strategy not in strategies:
            error(spot.at(option), f"'{option}' applies to strategy {' or '.join(strategies)}, "
                  f"not {strategy}", f"Remove '{option}', or use strategy {strategies[0]}.")
    key = body.get("unique_key")
    if strategy in ("merge", "snapshot") and not key:
        error(spot, f"strategy {strategy} needs a unique_key",
              "For example: unique_key: [customer_id] (the columns identifying a row).")
    if strategy == "snapshot":
        _snapshot_rules(body, spot, error)
    return {"unique_key": tuple([key] if isinstance(key, str) else key or ()),
            "cursor": body.get("cursor"), "delete_when": body.get("delete_when"),
            "updated_at": body.get("updated_at"),
            "check_columns": tuple(body.get("check_columns") or ()),
            "hard_deletes": bool(body.get("hard_deletes", False))}


def _snapshot_rules(body: dict[str, Any], spot, error: Callable) -> None:
    if ("updated_at" in body) == ("check_columns" in body):
        error(spot, "strategy snapshot needs exactly one of updated_at and check_columns",
              "updated_at: <a column that changes with the row>, or check_columns: [<columns "
              "compared>].")
    named = [body.get("updated_at"), *(body.get("check_columns") or ())]
    clash = [c for c in named if c in SNAPSHOT_COLUMNS]
    if clash:
        error(spot, f"'{clash[0]}' is a column duck adds to a snapshot",
              f"Rename it in the SQL; duck adds {', '.join(SNAPSHOT_COLUMNS)}.")


def contract_of(raw: list[Any], spot, error: Callable) -> tuple[ColumnSpec, ...]:
    """The column contract; a column named twice is an error."""
    out: list[ColumnSpec] = []
    for index, item in enumerate(raw):
        if any(c.name.lower() == item["name"].lower() for c in out):
            error(spot.at(index), f"the contract names column '{item['name']}' twice",
                  "Declare each column once.")
            continue
        out.append(ColumnSpec(item["name"], item.get("type"), bool(item.get("not_null")),
                              item.get("description"), spot.at(index).location))
    return tuple(out)


def definition_of(raw: dict[str, Any], location: Location) -> CheckDefinition:
    """A reusable check from its entry; uses are resolved once every file is read."""
    return CheckDefinition(raw["name"], tuple(raw.get("parameters") or ()), raw["sql"],
                           raw.get("description"), location)
