"""Selection syntax: ``name``, ``+name``, ``name+``, ``+name+``, ``tag:x``, ``owner:x``, ``kind:x``, globs.

Several selectors are a union. ``+`` before a selector adds its upstream, after it its downstream.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping

from duck_cli.errors import UsageError, did_you_mean
from duck_cli.graph.dag import AssetGraph
from duck_cli.models import Asset

_ATTRS = {
    "tag": lambda a, v: any(fnmatch.fnmatchcase(t, v) for t in a.tags),
    "owner": lambda a, v: a.owner is not None and fnmatch.fnmatchcase(a.owner, v),
    "kind": lambda a, v: fnmatch.fnmatchcase(a.kind, v),
}


def select(assets: Mapping[str, Asset], graph: AssetGraph, selectors: Iterable[str]) -> list[str]:
    """The selected asset names in topological order; no selectors selects everything."""
    chosen: set[str] = set()
    words = [w for s in selectors for w in s.replace(",", " ").split()]
    if not words:
        return list(graph.order)
    for word in words:
        chosen |= _one(assets, graph, word)
    return graph.ordered(chosen)


def _one(assets: Mapping[str, Asset], graph: AssetGraph, word: str) -> set[str]:
    up, core, down = word.startswith("+"), word.strip("+"), word.endswith("+") and len(word) > 1
    base = _match(assets, core, word)
    out = set(base)
    if up:
        out |= graph.upstream_closure(base)
    if down:
        out |= graph.downstream_closure(base)
    return out


def _match(assets: Mapping[str, Asset], core: str, word: str) -> set[str]:
    attr, sep, value = core.partition(":")
    if sep and attr in _ATTRS:
        found = {n for n, a in assets.items() if _ATTRS[attr](a, value)}
    elif sep:
        raise UsageError(f"unknown selector method '{attr}:' in '{word}'",
                         hint="Use tag:, owner: or kind:, a name, or a glob like 'stg_*'.")
    elif any(c in core for c in "*?["):
        found = {n for n in assets if fnmatch.fnmatchcase(n, core)}
    else:
        found = {core} if core in assets else set()
        if not found:
            tip = did_you_mean(core, assets) or "Run `duck graph` to list the assets."
            raise UsageError(f"no asset named '{core}'", hint=tip)
    if not found:
        raise UsageError(f"selector '{word}' matches no asset",
                         hint="Run `duck graph` to see names, tags, owners and kinds.")
    return found
