"""The partitions a command is about: the ones it was asked for and every upstream partition
they read, through the partition mappings (offsets included), all the way up.

A one-day backfill observes, reads and assesses only these, so its cost does not grow with
the history around it; `duck plan` and `duck status` still look at everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping

from duck_cli.graph.mapping import upstream_map
from duck_cli.graph.partitions import key_count, partition_keys
from duck_cli.graph.periods import key_indices
from duck_cli.models import UNPARTITIONED, PartitionsDef, Project, StaticPartitions

Scope = Mapping[str, frozenset[str]]  # asset -> the keys in scope (an asset missing: none)


def upstream_closure(project: Project, order: Iterable[str],
                     requested: Mapping[str, Iterable[str]], now: datetime) -> Scope:
    """The requested keys per asset, and the keys of every upstream asset they read.

    ``order`` is a topological order (upstream first): walked backwards, each asset's keys
    are complete before they are mapped onto its own upstream.
    """
    need: dict[str, set[str]] = {a: set(ks) for a, ks in requested.items() if ks}
    listed: dict[str, list[str]] = {}  # an upstream read by several assets is listed once
    for name in reversed(tuple(order)):
        keys = need.get(name)
        if not keys:
            continue
        asset = project.assets[name]
        for dep in asset.deps:
            up = project.assets[dep.asset]
            if up.name not in listed:
                listed[up.name] = partition_keys(up.partitions, now)
            mapped = upstream_map(asset.partitions, up.partitions, dep, sorted(keys),
                                  listed[up.name])
            need.setdefault(dep.asset, set()).update(k for ks in mapped.values() for k in ks)
    return {a: frozenset(ks) for a, ks in need.items()}


def covers(scope: Scope | None, asset: str, keys: Iterable[str]) -> bool:
    """Whether every one of ``keys`` of ``asset`` is in scope (no scope: everything is)."""
    if scope is None:
        return True
    mine = scope.get(asset, frozenset())
    return all(k in mine for k in keys)


def in_order(defn: PartitionsDef | None, keys: Iterable[str]) -> list[str]:
    """Existing ``keys`` in the order `partition_keys` lists them, without listing them all
    (a day's backfill must not cost a pass over ten years of days).

    >>> from datetime import datetime
    >>> from duck_cli.models import TimePartitions
    >>> in_order(TimePartitions("daily", datetime(2026, 1, 1)), {"2026-03-02", "2026-02-28"})
    ['2026-02-28', '2026-03-02']
    """
    if defn is None:
        return [UNPARTITIONED] if UNPARTITIONED in keys else []
    if isinstance(defn, StaticPartitions):
        return [v for v in defn.values if v in keys]
    keys = list(keys)
    return [k for _i, k in sorted(zip(key_indices(defn, keys), keys))]


def keys_of(scope: Scope | None, asset, now: datetime) -> list[str]:
    """``asset``'s keys a command looks at, in `partition_keys` order: every one without a
    scope, else those in it."""
    if scope is None:
        return partition_keys(asset.partitions, now)
    return in_order(asset.partitions, scope.get(asset.name, ()))


def whole(scope: Scope | None, asset: str, defn: PartitionsDef | None, now: datetime) -> bool:
    """Whether every partition of ``asset`` is in scope (no scope: yes)."""
    return scope is None or len(scope.get(asset, ())) >= key_count(defn, now)

