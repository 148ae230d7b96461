"""Selection syntax, as dbt users know it.

A selector is ``[@][N+]core[+N]`` where the core is a name, a glob (``stg_*``) or a method
(``tag:x``, ``owner:x``, ``kind:x``, ``schema:x``). ``+`` before the core adds its upstream, after it its
downstream; a number bounds the depth (``2+name``: two levels up; ``name+1``: direct children).
``@name`` is the asset, its descendants and every ancestor of those (what a rebuild needs).
Selectors separated by spaces (several arguments) are a union; a comma inside one argument is an
intersection (``tag:finance,owner:team:x``); ``--exclude`` removes what its selectors match.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from duck_cli.errors import UsageError, did_you_mean
from duck_cli.graph.dag import AssetGraph
from duck_cli.models import Asset

_ATTRS = {
    "tag": lambda a, v: any(fnmatch.fnmatchcase(t, v) for t in a.tags),
    "owner": lambda a, v: a.owner is not None and fnmatch.fnmatchcase(a.owner, v),
    "kind": lambda a, v: fnmatch.fnmatchcase(a.kind, v),
    "schema": lambda a, v: fnmatch.fnmatchcase(a.schema, v),
}
METHODS = tuple(_ATTRS)
_GRAPH = re.compile(r"^(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<core>[^+@]+?)(?:\+(?P<down>\d*))?$")
COMMA_NOTE = ("a comma inside one selector means intersection (assets matching every part, as in "
              "dbt); before duck 0.2 it meant union: for a union, separate selectors with spaces")


@dataclass(frozen=True)
class Selection:
    """What a command was asked to select: selector arguments and ``--exclude`` ones."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include)

    def text(self) -> str:
        """The selection as typed (recorded with a backfill).

        >>> Selection(("a", "tag:x"), ("b",)).text()
        'a tag:x --exclude b'
        """
        return " ".join([*self.include, *(["--exclude", *self.exclude] if self.exclude else [])])


def as_selection(selectors: "Selection | Iterable[str]") -> Selection:
    """A Selection from a Selection or a plain list of selector arguments."""
    return selectors if isinstance(selectors, Selection) else Selection(tuple(selectors))


def select(assets: Mapping[str, Asset], graph: AssetGraph,
           selectors: "Selection | Iterable[str]") -> list[str]:
    """The selected asset names in topological order; no selectors selects everything."""
    sel = as_selection(selectors)
    args = [w for s in sel.include for w in s.split()]
    chosen = set(graph.order) if not args else set().union(
        *(_intersection(assets, graph, a) for a in args))
    for arg in (w for s in sel.exclude for w in s.split()):
        chosen -= _intersection(assets, graph, arg, strict=False)
    return graph.ordered(chosen)


def comma_warnings(selectors: "Selection | Iterable[str]") -> list[str]:
    """A note for each selector argument whose comma changed meaning (union → intersection)."""
    sel = as_selection(selectors)
    return [f"'{w}': {COMMA_NOTE}" for s in (*sel.include, *sel.exclude) for w in s.split()
            if "," in w.strip(",")]


def _intersection(assets, graph, arg: str, strict: bool = True) -> set[str]:
    parts = [p for p in arg.split(",") if p]
    found = _one(assets, graph, parts[0])
    for part in parts[1:]:
        found &= _one(assets, graph, part)
    if strict and not found and len(parts) > 1:
        raise UsageError(f"selector '{arg}' matches no asset: {COMMA_NOTE}",
                         hint=f"For the union write: {' '.join(parts)}")
    return found


def _one(assets: Mapping[str, Asset], graph: AssetGraph, word: str) -> set[str]:
    m = _GRAPH.match(word)
    if m is None:
        raise UsageError(f"selector '{word}' is not understood",
                         hint="Write name, +name, name+, 2+name, name+1, @name, tag:x, owner:x, "
                              "kind:x, schema:x or a glob like 'stg_*'.")
    base = _match(assets, m["core"], word)
    out = set(base)
    if m["at"]:
        down = base | graph.downstream_closure(base)
        return down | graph.upstream_closure(down)
    if m["up"] is not None:
        out |= graph.upstream_closure(base, _depth(m["up"]))
    if m["down"] is not None:
        out |= graph.downstream_closure(base, _depth(m["down"]))
    return out


def _depth(text: str) -> int | None:
    return int(text) if text else None


def _match(assets: Mapping[str, Asset], core: str, word: str) -> set[str]:
    attr, sep, value = core.partition(":")
    if sep and attr in _ATTRS:
        found = {n for n, a in assets.items() if _ATTRS[attr](a, value)}
    elif sep:
        raise UsageError(f"unknown selector method '{attr}:' in '{word}'",
                         hint="Use tag:, owner:, kind: or schema:, a name, or a glob like 'stg_*'.")
    elif any(c in core for c in "*?["):
        found = {n for n in assets if fnmatch.fnmatchcase(n, core)}
    else:
        found = {core} if core in assets else set()
        if not found:
            tip = did_you_mean(core, assets) or "Run `duck graph` to list the assets."
            raise UsageError(f"no asset named '{core}'", hint=tip)
    if not found:
        raise UsageError(f"selector '{word}' matches no asset",
                         hint="Run `duck graph` to see names, tags, owners, kinds and relations.")
    return found
