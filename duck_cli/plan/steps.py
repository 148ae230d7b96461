"""Steps: the units of work of a plan, each carrying what it waits for.

Step dependencies are decided here, once: which partitions of which steps a step reads (its
`needs`, per key in `upstream`), and which earlier steps it must wait for when steps run side
by side (`after`). The runner executes exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

from duck_cli.graph import partitions as parts
from duck_cli.health.assess import Health, upstream_partitions
from duck_cli.models import Asset, Project

Node = tuple[str, str]  # (asset, partition key)


@dataclass(frozen=True)
class Step:
    """One unit of work: build these partitions (one statement for a batch) of one asset."""

    index: int
    asset: str
    keys: tuple[str, ...]
    reasons: tuple[str, ...]  # sentences, most important first
    codes: tuple[str, ...]  # reason codes, sorted
    needs: tuple[int, ...]  # steps whose partitions it reads
    after: tuple[int, ...] = ()  # every earlier step it waits for (`step_dependencies`)
    upstream: tuple[tuple[Node, ...], ...] = ()  # per key: the planned partitions it reads

    def reads(self, i: int) -> tuple[Node, ...]:
        """The planned partitions the step's ``i``-th key reads (a failure there skips it)."""
        return self.upstream[i] if self.upstream else ()


def make_steps(project: Project, health: Health, order: Iterable[str],
               planned: Mapping[str, list[str]], reasons: Callable[[str, str], tuple[str, ...]],
               batch_size: int) -> tuple[Step, ...]:
    """The steps that build the ``planned`` keys of each asset, in graph order, batched, each
    with what it reads and waits for."""
    steps: list[Step] = []
    where: dict[Node, int] = {}
    for asset in order:
        keys = planned.get(asset)
        if not keys:
            continue
        a = project.assets[asset]
        # a key is not a range; a Python function is called once per partition, as Dagster does
        size = 1 if "$partition_key" in a.materialize.sql or a.materialize.python else batch_size
        states = health.assets[asset].partitions
        for batch in parts.batches(a.partitions, keys, size):
            ups = tuple(tuple(u for u in upstream_partitions(project, health, asset, k)
                              if u in where) for k in batch) if a.deps else ((),) * len(batch)
            needs = sorted({where[u] for key_ups in ups for u in key_ups})
            codes = tuple(sorted({r.code for rs in _distinct(states[k].reasons for k in batch)
                                  for r in rs}))
            steps.append(Step(len(steps), asset, tuple(batch), _merge(reasons(asset, k) for k in batch),
                              codes, tuple(needs), upstream=ups))
            where.update({(asset, k): len(steps) - 1 for k in batch})
    after = step_dependencies(project, steps)
    return tuple(replace(s, after=after[s.index]) for s in steps)


def _merge(reason_lists: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for reasons in _distinct(reason_lists):
        out.update(dict.fromkeys(reasons))
    return tuple(out)


def _distinct(tuples: Iterable[tuple]) -> Iterable[tuple]:
    """The tuples, each run of one same object given once (partitions of a batch mostly share
    their reasons' tuple): what is merged from them does not change, and the work is per run."""
    last = None
    for t in tuples:
        if t is not last:
            last = t
            yield t


def slices_in_parallel(asset: Asset | None) -> bool:
    """Whether an asset's partition steps may run side by side once its first step is done.

    The first step creates the table or changes its columns if the SQL's have changed; after
    it, each step of an incremental asset without checks deletes and inserts its own slice
    of the table, and transactions on disjoint slices do not conflict. (A step that falls
    back to staging after it finds the same columns, so it alters nothing.)"""
    return (asset is not None and asset.partitions is not None and asset.materialize is not None
            and asset.materialize.strategy == "incremental" and not asset.checks)


def step_dependencies(project: Project, steps: Iterable[Step],
                      parallel: Callable[[str], bool] | None = None) -> dict[int, tuple[int, ...]]:
    """For each step, the earlier steps it must wait for: the latest step of every planned asset
    it reads, directly or through assets the plan does not rebuild (a view over a rebuilt table
    reads the new data), and the previous step of the same asset; or, for an asset whose slices
    may be built side by side (``parallel``, by default `slices_in_parallel`), only its first
    step (which shows the SQL fits the table)."""
    steps = list(steps)
    planned = {step.asset for step in steps}
    parallel = parallel or (lambda name: slices_in_parallel(project.assets.get(name)))
    reach = _reach(project, planned)
    side_by_side = {name: parallel(name) for name in planned}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    deps: dict[int, tuple[int, ...]] = {}
    for step in steps:
        found = {last[n] for n in reach(step.asset) if n in last} | set(step.needs)
        own = (first if side_by_side[step.asset] else last).get(step.asset)
        if own is not None:
            found.add(own)
        deps[step.index] = tuple(sorted(found))
        first.setdefault(step.asset, step.index)
        last[step.asset] = step.index
    return deps


def _reach(project: Project, planned: set[str]) -> Callable[[str], frozenset[str]]:
    """The planned assets an asset reads, directly or through assets that are not planned.

    Iterative, upstream first, each asset's answer from its inputs' (memoized): linear in
    assets plus edges, and no recursion limit on a long chain of unplanned assets."""
    memo: dict[str, frozenset[str]] = {}

    def reach(name: str) -> frozenset[str]:
        stack, entered = [name], set()
        while stack:
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            ups = _inputs(project, node)
            todo = [u for u in ups if u not in planned and u not in memo and u not in entered]
            if todo and node not in entered:  # a guard: the graph has no cycles
                entered.add(node)
                stack.extend(todo)
                continue
            memo[node] = frozenset(u for up in ups
                                   for u in ((up,) if up in planned else memo.get(up, ())))
            stack.pop()
        return memo[name]

    return reach


def _inputs(project: Project, name: str) -> set[str]:
    """The assets one asset reads: its deps and the project's assets its SQL names."""
    asset = project.assets.get(name)
    if asset is None:
        return set()
    return set(asset.upstream) | {r for r in asset.reads if r in project.assets}
