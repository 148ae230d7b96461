"""Each partition's verdict in a plan: build it (``plan``), leave it (``ok``), or hold it back
(``blocked`` by an upstream partition that cannot be built, or ``unfixable`` as it stands), with
the reasons and the root of a hold; decided in topological order from the upstream verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from duck_cli.health.assess import Health, breaks_readers, upstream_partitions
from duck_cli.health.state import State
from duck_cli.models import FULL_REFRESH, STATEFUL, Project

PLAN, OK, BLOCKED, UNFIXABLE = "plan", "ok", "blocked", "unfixable"


@dataclass(frozen=True)
class Request:
    """What to plan: assets in scope, target partitions, and how eagerly."""

    scope: frozenset[str]  # assets the plan may build
    targets: Mapping[str, tuple[str, ...]]  # asset -> keys to consider
    forced: frozenset[tuple[str, str]] = frozenset()  # build even when fresh
    include_upstream: bool = False  # walk upstream of targets (reconcile)
    retry_failed: bool = True
    batch_size: int = 1
    read_published: bool = False  # --force: build over unhealthy upstream that has data


def verdict(project: Project, health: Health, req: Request, asset: str, key: str,
             verdicts: Mapping) -> tuple:
    """(verdict, reasons, root blocker) for one partition; upstream verdicts are known."""
    p = health.partition(asset, key)
    if project.assets[asset].is_source:
        if p.state == State.FRESH:
            return (OK, (), None)
        return (UNFIXABLE, tuple(r.message for r in p.reasons), (asset, key))
    ups = [(u, verdicts.get(u) or _outside(health, req, u)) for u in
           upstream_partitions(project, health, asset, key)]
    forced = (asset, key) in req.forced
    if p.state == State.FRESH and not forced and all(v[0] == OK for _u, v in ups):
        return (OK, (), None)  # the common case, decided without the blocking walk below
    # a partition reading nothing (100,000 hours of one asset) skips the second walk
    blocking = set(upstream_partitions(project, health, asset, key, blocking_only=True)) \
        if ups else set()
    held_up = [(up, root) for up, (verdict, _why, root) in ups
               if verdict in (BLOCKED, UNFIXABLE) and up in blocking]
    for up, root in held_up:
        if not (forced and req.read_published and _readable(health, up)):
            return (BLOCKED, (), root or up)
    upstream_planned = [up for up, v in ups if v[0] == PLAN and not _ignored(health, req, up, v)]
    if forced:
        refresh = (FULL_REFRESH,) if _stateful(project.assets[asset]) else ()
        return (PLAN, refresh + (reasons_of(p) or ("requested",)) + _reads_as_is(health, held_up),
                None)
    if p.state == State.FRESH and not upstream_planned:
        return (OK, (), None)
    if asset not in req.scope:
        return (BLOCKED, (), (asset, key))
    if p.state == State.FAILED and not req.retry_failed and not upstream_planned \
            and _fails_the_same(project, health, asset, key):
        return (UNFIXABLE, reasons_of(p), (asset, key))
    extra = tuple(dict.fromkeys(f"{a} is rebuilt first" for a, _k in upstream_planned)) \
        if upstream_planned else ()
    return (PLAN, reasons_of(p) + extra, None)


def reads_nothing(asset) -> bool:
    """Whether an asset is built from no other asset's partitions (no deps, not a source)."""
    return not asset.deps and not asset.is_source


def messages_memo():
    """A function giving a partition's reasons as sentences, one tuple per distinct set of
    reasons (100,000 partitions of one asset share a handful, and so do their steps)."""
    memo: dict = {}

    def messages(p) -> tuple[str, ...]:
        found = memo.get(p.reasons)
        if found is None:
            found = memo[p.reasons] = reasons_of(p)
        return found

    return messages


FRESH_OK = (OK, (), None)  # the verdict of a fresh partition nobody forces


def leaf_verdicts(project: Project, health: Health, req: Request, asset: str, keys,
                   verdicts: dict, messages) -> None:
    """`leaf_verdict` of each of ``keys``. A fresh partition nobody forces is decided inline
    and not stored: a missing verdict reads as `FRESH_OK` (the fresh partitions of 100,000)."""
    partitions, forced, fresh = health.assets[asset].partitions, req.forced, State.FRESH
    for key in keys:
        p = partitions[key]
        if p.state != fresh or (forced and (asset, key) in forced):
            verdicts[(asset, key)] = leaf_verdict(project, health, req, asset, key, p, messages)


def leaf_verdict(project: Project, health: Health, req: Request, asset: str, key: str, p,
                  messages) -> tuple:
    """`verdict` for a partition of an asset that reads nothing (`reads_nothing`): the same
    answer without the upstream walks (tests/plan/test_leaf_verdict.py holds them equal)."""
    if (asset, key) in req.forced:
        refresh = (FULL_REFRESH,) if _stateful(project.assets[asset]) else ()
        return (PLAN, refresh + (messages(p) or ("requested",)), None)
    if p.state == State.FRESH:
        return FRESH_OK
    if asset not in req.scope:
        return (BLOCKED, (), (asset, key))
    if p.state == State.FAILED and not req.retry_failed \
            and _fails_the_same(project, health, asset, key):
        return (UNFIXABLE, messages(p), (asset, key))
    return (PLAN, messages(p), None)


def _ignored(health: Health, req: Request, up: tuple[str, str], verdict: tuple) -> bool:
    """Whether an upstream partition is planned only for a change its readers may ignore
    (nullable columns added to its contract): its downstream is not rebuilt for it."""
    p = health.partition(*up)
    return (bool(p.reasons) and not breaks_readers(p) and up not in req.forced
            and verdict[1] == reasons_of(p))


def _readable(health: Health, up: tuple[str, str]) -> bool:
    """Whether an upstream partition has published data a forced rebuild can read."""
    p = health.partition(*up)
    return p.state == State.FRESH or p.seq > 0


def _reads_as_is(health: Health, held_up) -> tuple[str, ...]:
    """Reasons naming the unhealthy upstream a forced rebuild reads as published."""
    return tuple(dict.fromkeys(
        f"--force: reads {a} {k} as published ({health.partition(a, k).state})".replace("  ", " ")
        for (a, k), _root in held_up))


def _stateful(asset) -> bool:
    """Whether the asset builds on the table it published before (append, merge, snapshot)."""
    return asset.materialize is not None and asset.materialize.strategy in STATEFUL


def _outside(health: Health, req: Request, up: tuple[str, str]) -> tuple:
    """The verdict of an upstream partition that is not part of the plan's cone."""
    p = health.partition(*up)
    if p.state == State.FRESH:
        return (OK, (), None)
    return (UNFIXABLE if any(r.code == "source_missing" for r in p.reasons) else BLOCKED,
            (), up)


def _fails_the_same(project: Project, health: Health, asset: str, key: str) -> bool:
    """A failed partition whose SQL and inputs did not change since it failed."""
    p = health.partition(asset, key)
    return not any(r.code in ("code_changed", "upstream_newer") for r in p.reasons)


def reasons_of(p) -> tuple[str, ...]:
    """A partition's reasons, as sentences."""
    return tuple(r.message for r in p.reasons)
