"""Rules across assets: duplicate names, unknown deps, cycles, partition mappings, references.

Each rule is a plain function from the built models to problems; ``RULES`` runs them in order.
"""

from __future__ import annotations

import graphlib
from typing import Any, Callable, Iterable

from duck_cli.errors import Problem, did_you_mean
from duck_cli.models import Dep, PartitionsDef, StaticPartitions, TimePartitions
from duck_cli.manifest.entries import Built, Spot


def cross_rules(built: Built, other_names: Iterable[str] = ()) -> list[Problem]:
    """Every cross-asset problem; ``other_names`` are assets that exist but failed validation."""
    known = {a.name for a in built.assets} | set(other_names)
    return [p for rule in RULES for p in rule(built, known)]


def duplicate_assets(built: Built, known: set[str]) -> list[Problem]:
    """Two assets with one name (DuckDB table names ignore case)."""
    return _duplicates([(a.name, a.location) for a in built.assets], "asset",
                       "Rename one of them: asset names become table names.")


RESERVED_PREFIXES = ("__duck", "_duck")  # duck's staging tables and its ledger schema


def reserved_names(built: Built, known: set[str]) -> list[Problem]:
    """Asset names (and source tables) that duck's own objects could collide with."""
    problems = []
    for asset in built.assets:
        spot = built.spots[asset.name]
        table = asset.source.table if asset.source is not None else None
        for value, path in ((asset.name, ("name",)), (table, ("source", "table"))):
            if value and value.rpartition(".")[2].lower().startswith(RESERVED_PREFIXES):
                problems.append(spot.at(*path).problem(
                    f"'{value}' starts with '{value[:6] if value.startswith('__') else value[:5]}',"
                    " a prefix duck reserves for its own staging tables and ledger",
                    "Rename it: names starting with __duck or _duck are duck's."))
    return problems


def duplicate_products(built: Built, known: set[str]) -> list[Problem]:
    """Two products with one name."""
    return _duplicates([(p.name, p.location) for p in built.products], "product", "Rename one of them.")


def _duplicates(named: list[tuple[str, Any]], what: str, hint: str) -> list[Problem]:
    first: dict[str, tuple[str, Any]] = {}
    problems = []
    for name, location in named:
        seen = first.setdefault(name.lower(), (name, location))
        if seen[1] is location:
            continue
        same = f"'{name}'" if seen[0] == name else f"'{name}' (as '{seen[0]}': names ignore case)"
        problems.append(Problem(f"{what} {same} is defined twice, first at {seen[1]}",
                                location.file, location.line, hint, name if what == "asset" else None))
    return problems


def unknown_deps(built: Built, known: set[str]) -> list[Problem]:
    """Deps naming no asset."""
    problems = []
    for asset in built.assets:
        for dep in asset.deps:
            if dep.asset not in known:
                hint = did_you_mean(dep.asset, known) or "Define that asset, or remove it from deps."
                spot = dep_spot(built.spots[asset.name], dep.asset)
                problems.append(spot.problem(f"depends on unknown asset '{dep.asset}'", hint))
    return problems


def cycles(built: Built, known: set[str]) -> list[Problem]:
    """A dependency cycle, printed as its path: each asset depends on the next."""
    upstream = {a.name: [d.asset for d in a.deps if d.asset in known] for a in built.assets}
    if acyclic(upstream):  # the common case, decided without graphlib's slower cycle search
        return []
    try:
        graphlib.TopologicalSorter(upstream).prepare()
    except graphlib.CycleError as err:
        path = orient_cycle(list(err.args[1]), upstream)
        spot = built.spots[path[0]]
        return [spot.problem(f"dependency cycle: {' -> '.join(path)}",
                             "Each asset depends on the next one; remove one of these deps.")]
    return []


def acyclic(upstream: dict[str, list[str]]) -> bool:
    """Whether no dependency cycle exists (Kahn's algorithm: every node can be taken once
    what it depends on was taken).

    >>> acyclic({"a": [], "b": ["a"], "c": ["a", "b", "x"]}), acyclic({"a": ["b"], "b": ["a"]})
    (True, False)
    >>> acyclic({"a": ["a"]})
    False
    """
    waiting = {node: len(set(ups)) for node, ups in upstream.items()}
    readers: dict[str, list[str]] = {}
    for node, ups in upstream.items():
        for up in set(ups):
            readers.setdefault(up, []).append(node)
            waiting.setdefault(up, 0)
    ready = [node for node, count in waiting.items() if count == 0]
    taken = 0
    while ready:
        taken += 1
        for reader in readers.get(ready.pop(), ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                ready.append(reader)
    return taken == len(waiting)


def orient_cycle(nodes: list[str], upstream: dict[str, list[str]]) -> list[str]:
    """A cycle (first node repeated last) in dependency direction, starting at its smallest name.

    >>> orient_cycle(["b", "a", "b"], {"a": ["b"], "b": ["a"]})
    ['a', 'b', 'a']
    >>> orient_cycle(["a", "c", "b", "a"], {"a": ["b"], "b": ["c"], "c": ["a"]})
    ['a', 'b', 'c', 'a']
    >>> orient_cycle(["t", "o", "s", "t"], {"o": ["t"], "s": ["o"], "t": ["o", "s"]})
    ['o', 't', 's', 'o']
    """
    ring = nodes[:-1]
    # Check every step, not only the first: a chord (t also depends on o) can make the first
    # step look right in the reversed ring.
    if any(b not in upstream.get(a, ()) for a, b in zip(ring, ring[1:] + ring[:1])):
        ring.reverse()
    start = ring.index(min(ring))
    ring = ring[start:] + ring[:start]
    return ring + [ring[0]]


def partition_mappings(built: Built, known: set[str]) -> list[Problem]:
    """Deps whose partition mapping cannot map this asset's partitions onto the upstream's."""
    by_name = {a.name: a for a in built.assets}
    problems = []
    for asset in built.assets:
        for dep in asset.deps:
            upstream = by_name.get(dep.asset)
            why = mapping_problem(asset.partitions, upstream.partitions, dep) if upstream else None
            if why:
                spot = dep_spot(built.spots[asset.name], dep.asset)
                problems.append(spot.problem(why[0], why[1]))
    return problems


def mapping_problem(own: PartitionsDef | None, up: PartitionsDef | None, dep: Dep) -> tuple[str, str] | None:
    """Why ``dep.mapping`` cannot map ``own`` partitions onto ``up``'s (message, hint), or None.

    >>> mapping_problem(StaticPartitions(("A",)), TimePartitions("daily", None), Dep("u"))[1]
    'Use mapping: all (every upstream partition).'
    """
    if dep.mapping == "all":
        return None
    if dep.mapping == "offset":
        if isinstance(own, TimePartitions) and isinstance(up, TimePartitions):
            return None
        return (f"mapping offset needs time partitions on both sides, but this asset has {_kind(own)} "
                f"and '{dep.asset}' has {_kind(up)}", "Use mapping: all, or remove the offset.")
    if own is None or up is None:
        if dep.mapping == "identity":
            return (f"mapping identity needs partitions on both sides, but this asset has {_kind(own)} "
                    f"and '{dep.asset}' has {_kind(up)}",
                    "Use mapping: auto or all.")
        return None
    return _partitioned_problem(own, up, dep)


def _partitioned_problem(own: PartitionsDef, up: PartitionsDef, dep: Dep) -> tuple[str, str] | None:
    if isinstance(own, StaticPartitions) != isinstance(up, StaticPartitions):
        return (f"cannot map {own.kind} partitions onto the {up.kind} partitions of '{dep.asset}' "
                f"with mapping {dep.mapping}", "Use mapping: all (every upstream partition).")
    if isinstance(own, StaticPartitions) and isinstance(up, StaticPartitions):
        missing = [v for v in own.values if v not in up.values]
        if missing:
            return (f"static values {', '.join(missing)} are not partitions of '{dep.asset}'",
                    f"Add them to '{dep.asset}''s values, or use mapping: all.")
        return None
    if dep.mapping == "identity" and own.kind != up.kind:
        return (f"mapping identity needs equal granularities, but this asset is {own.kind} and "
                f"'{dep.asset}' is {up.kind}", "Use mapping: auto to map overlapping time windows.")
    return None


def _kind(parts: PartitionsDef | None) -> str:
    return f"{parts.kind} partitions" if parts is not None else "no partitions"


def relationship_targets(built: Built, known: set[str]) -> list[Problem]:
    """relationships checks pointing at unknown assets."""
    problems = []
    for asset in built.assets:
        for check in asset.checks:
            target = check.params.get("to") if check.kind == "relationships" else None
            if target is not None and target not in known:
                hint = did_you_mean(target, known) or "Point 'to' at an asset of this project."
                problems.append(Problem(f"check '{check.name}' refers to unknown asset '{target}'",
                                        check.location.file, check.location.line, hint, asset.name))
    return problems


def product_assets(built: Built, known: set[str]) -> list[Problem]:
    """Products listing unknown assets."""
    problems = []
    for product in built.products:
        spot = built.spots["product:" + product.name]
        for index, name in enumerate(spot.doc_at(("assets",)) or []):
            if name not in known:
                hint = did_you_mean(name, known) or "List assets defined in the project."
                problems.append(spot.at("assets", index).problem(
                    f"product '{product.name}' lists unknown asset '{name}'", hint))
    return problems


def dep_spot(spot: Spot, name: str) -> Spot:
    """The spot of the dep on ``name`` in an asset's deps list (the asset's spot if not found)."""
    for index, item in enumerate(spot.doc_at(("deps",)) or []):
        if item == name or (isinstance(item, dict) and item.get("asset") == name):
            return spot.at("deps", index)
    return spot


RULES: tuple[Callable[[Built, set[str]], list[Problem]], ...] = (
    duplicate_assets, reserved_names, duplicate_products, unknown_deps, cycles, partition_mappings,
    relationship_targets, product_assets,
)
