"""Mutations of parsed YAML documents, shared by the fuzz tests of the CLI and of validation."""

from __future__ import annotations

import copy
from typing import Any


def paths(node: Any, prefix: tuple = (), *, root: bool = True) -> list[tuple]:
    """Every path to a value inside ``node`` (the empty path of ``node`` itself when ``root``)."""
    found = [prefix] if prefix or root else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        found += paths(child, prefix + (key,))
    return found


def mutate(doc: Any, path: tuple, action: str, value: Any, nasty: str = "x") -> Any:
    """A copy of ``doc`` with the value at ``path`` deleted, renamed (its key + ``nasty``),
    duplicated (in a list), spliced (``nasty`` in the middle of a text), wrapped in a list (or a
    list in a mapping) or replaced by ``value``; the empty path replaces the whole document."""
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "rename" and isinstance(parent, dict):
        parent[f"{key}{nasty}"] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif action == "splice" and isinstance(parent[key], str):
        middle = len(parent[key]) // 2
        parent[key] = parent[key][:middle] + nasty + parent[key][middle:]
    elif action == "wrap":
        parent[key] = [parent[key]] if not isinstance(parent[key], list) else {"x": parent[key]}
    else:
        parent[key] = value
    return doc
