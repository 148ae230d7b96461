"""Plans as data: which asset partitions to build, in which order, and why; what is left alone.

`duck plan`, `duck materialize`, `duck backfill` and `duck reconcile` all build a `Plan` here; the
dry runs, `--json` and the executor all use the same plan. Planning is pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from duck_cli.errors import PartitionKeyError
from duck_cli.graph import mapping as pmap
from duck_cli.graph import partitions as parts
from duck_cli.graph.scope import in_order
from duck_cli.health.assess import Health, upstream_partitions
from duck_cli.health.state import State, turns_stale
from duck_cli.models import Project
from duck_cli.plan.steps import Step, make_steps
from duck_cli.plan.verdicts import (FRESH_OK, OK, PLAN, UNFIXABLE, Request, leaf_verdicts,
                                    messages_memo, reads_nothing, verdict as verdict_of)

@dataclass(frozen=True)
class Held:
    """Partitions of an asset the plan leaves alone, and why."""

    asset: str
    keys: tuple[str, ...]
    status: str  # fresh (a State) | blocked | unfixable
    message: str
    blocker: tuple[str, str] | None = None  # (asset, key) of the root cause


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps with their reasons, and what is held back."""

    command: str
    steps: tuple[Step, ...]
    held: tuple[Held, ...] = ()
    preview: object | None = None  # plan.defer.Preview: in an environment, what it defers

    @property
    def partitions(self) -> int:
        """How many asset partitions the plan builds."""
        return sum(len(s.keys) for s in self.steps)

    def blocked(self) -> list[Held]:
        """Held partitions that cannot be built yet (blocked or unfixable)."""
        return [h for h in self.held if h.status != State.FRESH]

    def held_back(self) -> bool:
        """Whether the selection was held back entirely (exit code 5): nothing to build,
        something blocked, and nothing selected is fresh."""
        return not self.steps and bool(self.blocked()) and all(
            h.status != State.FRESH for h in self.held)


def build(project: Project, health: Health, order: Iterable[str], req: Request,
          command: str) -> Plan:
    """Decide, for every target partition and what it needs, whether to build it, and why."""
    cone = _cone(project, health, req)
    verdicts: dict[tuple[str, str], tuple] = {}
    messages = messages_memo()
    for asset in order:
        if reads_nothing(project.assets[asset]):
            leaf_verdicts(project, health, req, asset, cone.get(asset, ()), verdicts, messages)
            continue
        for key in cone.get(asset, ()):
            verdicts[(asset, key)] = verdict_of(project, health, req, asset, key, verdicts)
    if req.include_upstream:
        _drop_unneeded(project, health, req, verdicts)
    order = list(order)
    get = verdicts.get  # a leaf's fresh partitions have no verdict stored: `FRESH_OK`
    planned = {a: [k for k in cone.get(a, ()) if get((a, k), FRESH_OK)[0] == PLAN] for a in order}
    steps = make_steps(project, health, order, planned, lambda a, k: verdicts[(a, k)][1],
                       req.batch_size)
    return Plan(command, steps, _held(project, order, verdicts, req))


def _drop_unneeded(project: Project, health: Health, req: Request, verdicts: dict) -> None:
    """Keep only the smallest useful work: what the buildable targets need, and nothing else.

    From each target walk upstream through partitions that are unhealthy (they must be rebuilt
    for the target to become healthy); then add every partition on the way to a kept one whose
    upstream is rebuilt (it would turn stale). Healthy upstream partitions stop the walk.
    """
    planned = {n for n, v in verdicts.items() if v[0] == PLAN}
    keep = {(a, k) for a, ks in req.targets.items() for k in ks if (a, k) in planned}
    while True:
        _add_unhealthy_upstream(project, health, planned, keep)
        more = _stale_by_rebuild(project, health, planned, keep)
        if not more:
            break
        keep |= more
    for node in planned - keep:
        verdicts[node] = (OK, (), None)


def _add_unhealthy_upstream(project, health, planned, keep) -> None:
    stack = list(keep)
    while stack:
        for up in upstream_partitions(project, health, *stack.pop()):
            if up in planned and up not in keep and health.partition(*up).state != State.FRESH:
                keep.add(up)
                stack.append(up)


def _stale_by_rebuild(project, health, planned, keep) -> set:
    """Planned partitions upstream of kept ones that read a kept (rebuilt) partition."""
    ancestors, stack = set(), list(keep)
    while stack:
        for up in upstream_partitions(project, health, *stack.pop()):
            if up in planned and up not in ancestors:
                ancestors.add(up)
                stack.append(up)
    return {n for n in ancestors - keep if turns_stale(health.partition(*n).state)
            and any(u in keep for u in upstream_partitions(project, health, *n))}


def _cone(project: Project, health: Health, req: Request) -> dict[str, list[str]]:
    """Target partitions, plus (for reconcile) every upstream partition they read."""
    if not req.include_upstream:  # the targets alone, in key order
        return {a: _in_order(health.assets[a].keys, keys) for a, keys in req.targets.items()
                if keys}
    seen = {(a, k) for a, keys in req.targets.items() for k in keys}
    if req.include_upstream:
        stack = list(seen)
        while stack:
            for up in upstream_partitions(project, health, *stack.pop()):
                if up not in seen:
                    seen.add(up)
                    stack.append(up)
    out: dict[str, set[str]] = {}
    for asset, key in seen:
        out.setdefault(asset, set()).add(key)
    return {a: [k for k in health.assets[a].keys if k in ks] for a, ks in out.items()}


def _in_order(all_keys: tuple[str, ...], keys) -> list[str]:
    """``keys`` in the order of ``all_keys`` (which holds them all when they are every key)."""
    if keys is all_keys or keys == all_keys:
        return list(all_keys)
    wanted = set(keys)
    return [k for k in all_keys if k in wanted]


def _held(project: Project, order, verdicts, req: Request) -> tuple[Held, ...]:
    groups: dict[tuple, list[str]] = {}
    for asset in order:
        if asset not in req.targets or project.assets[asset].is_source and asset not in req.scope:
            continue
        get, add = verdicts.get, groups.setdefault
        for key in req.targets[asset]:
            verdict, _reasons_, root = get((asset, key), FRESH_OK)
            if verdict != PLAN:
                add((asset, State.FRESH if verdict == OK else verdict, root), []).append(key)
    return tuple(Held(a, tuple(keys), s, _held_message(s, a, root, keys), root)
                 for (a, s, root), keys in groups.items())


def _held_message(status: str, asset: str, root, keys) -> str:
    if status == State.FRESH:
        return str(State.FRESH)
    if status == UNFIXABLE and root and root[0] == asset:
        return "cannot be rebuilt yet"
    label = f"{root[0]} {root[1]}".strip() if root else "an upstream"
    return f"blocked by {label}"


# -- requests: what each command asks the planner for ----------------------------------------


def requested_keys(project: Project, health: Health, assets: Iterable[str], keys: list[str],
                   first: str | None, last: str | None) -> dict[str, tuple[str, ...]]:
    """Validate --partition / --from --to against each selected partitioned asset.

    A key only has to belong to one of the selected assets (a daily key skips a region-partitioned
    asset); a key that belongs to none is an error naming the first asset's expectation.
    """
    return requested_at(project, health.now, assets, keys, first, last)


def requested_at(project: Project, now, assets: Iterable[str], keys: list[str],
                 first: str | None, last: str | None) -> dict[str, tuple[str, ...]]:
    """`requested_keys` at the clock ``now``, before any health is assessed."""
    out: dict[str, tuple[str, ...]] = {}
    first_error = None
    partitioned = [a for a in assets if project.assets[a].partitions is not None
                   and not project.assets[a].is_source]
    for name in partitioned:
        try:
            out[name] = _keys_for(project.assets[name], keys, first, last, now)
        except PartitionKeyError as err:
            first_error = first_error or err
    if not out:
        if first_error is not None:
            raise first_error
        raise PartitionKeyError("none of the selected assets is partitioned",
                                hint="Drop --partition/--from/--to, or select a partitioned asset.")
    return out


def _keys_for(asset, keys: list[str], first, last, now) -> tuple[str, ...]:
    defn = asset.partitions
    chosen = [parts.validate_key(defn, k, asset.name, now) for k in keys]
    if first or last:
        existing = parts.partition_keys(defn, now)
        lo = first or existing[0]
        hi = last or existing[-1]
        chosen += parts.key_range(defn, lo, hi, asset.name, now)
    # every chosen key exists (validated): sorted by its index, not by listing every key
    return tuple(in_order(defn, set(chosen)))


def for_materialize(project: Project, health: Health, order, selected: list[str], *,
                    keys: Mapping[str, tuple[str, ...]] | None = None, force: bool = False,
                    batch_size: int = 1, command: str = "materialize") -> Plan:
    """What `duck materialize` (and `duck plan`) would do: unhealthy or requested partitions."""
    if keys:
        targets = dict(keys)
        forced = frozenset((a, k) for a, ks in targets.items() for k in ks)
    else:
        targets = {a: health.assets[a].keys for a in selected}
        forced = frozenset((a, k) for a in selected for k in targets[a]) if force else frozenset()
    req = Request(frozenset(selected), targets, forced, batch_size=batch_size,
                  read_published=force)
    return build(project, health, order, req, command)


def for_backfill(project: Project, health: Health, graph, selected: list[str],
                 keys: Mapping[str, tuple[str, ...]], *, downstream: bool,
                 batch_size: int) -> Plan:
    """Rebuild exactly the requested partitions (and, with downstream, what reads them)."""
    targets = {a: tuple(ks) for a, ks in keys.items() if ks}
    if downstream:
        targets = _with_downstream(project, health, graph.order, targets)
    forced = frozenset((a, k) for a, ks in targets.items() for k in ks)
    req = Request(frozenset(targets), targets, forced, batch_size=batch_size)
    return build(project, health, graph.order, req, "backfill")


def _with_downstream(project: Project, health: Health, order, targets, passes=None):
    """Add every downstream partition that reads a targeted one, transitively.

    With ``passes(asset, key)``, only partitions it accepts are added (and walked on from).
    """
    out = {a: set(ks) for a, ks in targets.items()}
    for name in order:
        asset = project.assets[name]
        for dep in asset.deps:
            if dep.asset not in out:
                continue
            up = health.assets[dep.asset]
            inverse = pmap.downstream_map(asset.partitions, up.asset.partitions, dep,
                                           list(health.assets[name].keys), list(up.keys))
            hit = {d for k in out[dep.asset] for d in inverse.get(k, ())}
            if passes is not None:
                hit = {d for d in hit if passes(name, d)}
            if hit:
                out.setdefault(name, set()).update(hit)
    position = {a: {k: i for i, k in enumerate(health.assets[a].keys)} for a in out}
    return {a: tuple(sorted(ks, key=position[a].get)) for a, ks in out.items()}


def for_reconcile(project: Project, health: Health, order, selected: list[str], *,
                  retry_failed: bool, batch_size: int) -> Plan:
    """The smallest set of steps that moves the selection's unhealthy partitions to healthy.

    Targets are the unhealthy partitions of the selection, plus (to a fixpoint) the selected
    partitions that read something the plan rebuilds: they would turn stale right after.
    """
    readers = {a for a in selected if not project.assets[a].is_source}
    targets = {a: tuple(p.key for p in health.assets[a].unhealthy()) for a in readers}
    targets = _merge_targets({a: ks for a, ks in targets.items() if ks}, {}, readers)
    while True:
        req = Request(frozenset(project.assets), targets, include_upstream=True,
                      retry_failed=retry_failed, batch_size=batch_size)
        plan = build(project, health, order, req, "reconcile")
        planned = {}
        for step in plan.steps:
            planned.setdefault(step.asset, []).extend(step.keys)
        grown = _merge_targets(targets, _with_downstream(
            project, health, order, planned,
            lambda a, k: turns_stale(health.partition(a, k).state)), readers)
        if grown == targets:
            return plan
        targets = grown


def _merge_targets(targets: dict, more: dict, allowed: set) -> dict:
    out = {a: set(ks) for a, ks in targets.items()}
    for asset, keys in more.items():
        if asset in allowed:
            out.setdefault(asset, set()).update(keys)
    return {a: tuple(sorted(ks)) for a, ks in out.items()}
