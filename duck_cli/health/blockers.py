"""Blockers: the unhealthy upstream partitions that hold unhealthy partitions back.

Computed once for the whole graph, upstream first: each unhealthy partition's root causes come
from its parents' already-computed results, so the cost is linear in assets, edges and
partitions (times the root causes each carries), never a walk of every ancestor per asset.
`status` reads the root causes per asset and `why` walks the same edges, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple

from duck_cli.health.assess import ROOT_CAUSES, Health, PartitionHealth, Reason, upstream_partitions
from duck_cli.health.state import State
from duck_cli.models import Project

Node = tuple[str, str]  # (asset, partition key)
_NONE: Mapping[Node, int] = {}


class Blocker(NamedTuple):
    """An unhealthy upstream partition that holds an asset partition back."""

    asset: str
    key: str
    reason: Reason
    depth: int  # 1: a direct upstream
    root: bool  # whether this partition's own fault (not its upstream) is the cause


@dataclass(frozen=True)
class Blockers:
    """What holds every unhealthy partition back: its unhealthy blocking parents, and the root
    causes (with their nearest depth) found through them."""

    health: Health
    parents: Mapping[Node, tuple[Node, ...]]
    roots: Mapping[Node, Mapping[Node, int]]

    def blocker(self, node: Node, depth: int) -> Blocker:
        """``node`` as a blocker seen at ``depth``."""
        p = self.health.partition(*node)
        cause = root_reason(p)
        return Blocker(node[0], node[1], cause or p.reasons[0], depth, cause is not None)

    def root_causes(self, asset: str, keys: Iterable[str]) -> list[Blocker]:
        """The distinct root causes behind some partitions of one asset: for each partition in
        turn, nearest first."""
        out: dict[Node, Blocker] = {}
        for key in keys:
            found = self.roots.get((asset, key), _NONE)
            for node in sorted(found, key=found.__getitem__):
                if node not in out:
                    out[node] = self.blocker(node, found[node])
        return list(out.values())

    def walk(self, asset: str, keys: Iterable[str]) -> list[Blocker]:
        """Every blocker of some partitions of one asset, root causes and the unhealthy
        partitions between, each at its nearest depth; by depth, asset and key."""
        seen: set[Node] = set()
        frontier, out, depth = [(asset, k) for k in keys], [], 0
        while frontier:
            depth += 1
            nxt = []
            for node in frontier:
                for up in self.parents.get(node, ()):
                    if up not in seen:
                        seen.add(up)
                        found = self.blocker(up, depth)
                        out.append(found)
                        if not found.root:
                            nxt.append(up)
            frontier = nxt
        return sorted(out, key=lambda b: (b.depth, b.asset, b.key))


def root_reason(p: PartitionHealth) -> Reason | None:
    """The partition's own fault, if it is one (a missing source, a failed run or check)."""
    return next((r for r in p.reasons if r.code in ROOT_CAUSES), None)


def find_blockers(project: Project, health: Health) -> Blockers:
    """Blockers of every unhealthy partition, upstream first (`health.assets` is in graph
    order), each from its parents' results."""
    parents: dict[Node, tuple[Node, ...]] = {}
    roots: dict[Node, Mapping[Node, int]] = {}
    for name, ah in health.assets.items():
        if not ah.asset.deps:  # nothing upstream holds it back (100,000 hours of one asset)
            parents.update(dict.fromkeys(((name, p.key) for p in ah.unhealthy()), ()))
            roots.update(dict.fromkeys(((name, p.key) for p in ah.unhealthy()), _NONE))
            continue
        for p in ah.unhealthy():
            ups = tuple(dict.fromkeys(
                u for u in upstream_partitions(project, health, name, p.key, blocking_only=True)
                if health.partition(*u).state != State.FRESH))
            parents[(name, p.key)] = ups
            roots[(name, p.key)] = _roots(ups, roots, health)
    return Blockers(health, parents, roots)


def _roots(ups: tuple[Node, ...], roots: Mapping[Node, Mapping[Node, int]],
           health: Health) -> Mapping[Node, int]:
    """Root causes through these unhealthy parents: a parent at fault is one (depth 1), else
    its own root causes are, one step further."""
    if not ups:
        return _NONE
    out: dict[Node, int] = {}
    for up in ups:
        if root_reason(health.partition(*up)) is not None:
            found = {up: 0}
        else:
            found = roots[up]
        for node, depth in found.items():
            if depth + 1 < out.get(node, 1 << 30):
                out[node] = depth + 1
    return out or _NONE
