"""The asset graph: topological order, upstream and downstream closures.

Cycles are refused when the manifests are validated (`manifest.rules.cycles`), before a graph
is built.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from duck_cli.models import Asset


@dataclass(frozen=True)
class AssetGraph:
    """Edges between assets by name; ``order`` is a deterministic topological order."""

    upstream: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]

    @classmethod
    def build(cls, assets: Mapping[str, Asset]) -> "AssetGraph":
        """Build the graph; unknown deps must have been rejected by validation."""
        up = {name: tuple(sorted(set(a.upstream))) for name, a in assets.items()}
        down: dict[str, list[str]] = {name: [] for name in assets}
        for name, deps in up.items():
            for dep in deps:
                down[dep].append(name)
        return cls(up, {k: tuple(sorted(v)) for k, v in down.items()}, topological_order(up))

    def upstream_closure(self, names: Iterable[str], depth: int | None = None) -> set[str]:
        """Every asset the given ones depend on, transitively or ``depth`` levels up."""
        return _closure(names, self.upstream, depth)

    def downstream_closure(self, names: Iterable[str], depth: int | None = None) -> set[str]:
        """Every asset depending on the given ones, transitively or ``depth`` levels down."""
        return _closure(names, self.downstream, depth)

    def ordered(self, names: Iterable[str]) -> list[str]:
        """The given names in topological order."""
        wanted = set(names)
        return [n for n in self.order if n in wanted]

    def roots(self) -> list[str]:
        """Assets without upstream, in order."""
        return [n for n in self.order if not self.upstream[n]]


def topological_order(upstream: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """A deterministic topological order: ready nodes are taken in name order.

    >>> topological_order({"b": ["a"], "a": [], "c": ["a"]})
    ('a', 'b', 'c')
    """
    sorter = graphlib.TopologicalSorter({k: sorted(v) for k, v in upstream.items()})
    sorter.prepare()
    out: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        out.extend(ready)
        sorter.done(*ready)
    return tuple(out)


def _closure(names: Iterable[str], edges: Mapping[str, tuple[str, ...]],
             depth: int | None = None) -> set[str]:
    """Nodes reachable along ``edges`` (not the start nodes themselves), level by level.

    >>> sorted(_closure(["a"], {"a": ("b",), "b": ("c",), "c": ()}, depth=1))
    ['b']
    """
    seen: set[str] = set()
    frontier = {e for n in names for e in edges.get(n, ())}
    level = 1
    while frontier and (depth is None or level <= depth):
        frontier -= seen
        seen |= frontier
        frontier = {e for n in frontier for e in edges.get(n, ())}
        level += 1
    return seen
