"""Previews: build in an environment only what changed, read the rest from production.

An environment's plan compares the manifests with production's latest materializations: an
asset whose code version (its SQL and settings, its contract) differs from what production
built, or that production never built, is *changed*; the changed assets and everything
downstream of them are *built* in the environment; every other asset is *deferred*: the
environment reads production's table through the search path, nothing is copied or rebuilt.
A partitioned built asset is limited to a window: --from/--to, else its latest N partitions
(duck.yaml's ``preview_partitions``).

The environment's health is assessed on a *merged* snapshot: production's records for the
deferred assets, the environment's own for the built ones (and for a source the newer
observation of the two). Sequence numbers are comparable across the two because an
environment's session numbers its publishes after production's highest (`run.session`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from duck_cli.errors import UsageError
from duck_cli.graph import partitions as parts
from duck_cli.graph.dag import AssetGraph
from duck_cli.health.assess import Health
from duck_cli.models import Project
from duck_cli.plan.builder import Plan, Request, build, requested_keys
from duck_cli.records import Snapshot


@dataclass(frozen=True)
class Preview:
    """What an environment builds and what it reads from production."""

    env: str
    changed: tuple[str, ...]  # code differs from production's latest (or never built there)
    built: tuple[str, ...]  # the changed ones and their downstream, in graph order
    deferred: tuple[str, ...]  # read from production (sources included)
    window: Mapping[str, tuple[str, ...]]  # partitioned built asset -> keys previewed

    def as_dict(self) -> dict:
        """The preview as the plan's JSON document holds it."""
        return {"env": self.env, "changed": list(self.changed), "built": list(self.built),
                "deferred": list(self.deferred),
                "window": {a: {"first": ks[0], "last": ks[-1], "partitions": len(ks)}
                           for a, ks in self.window.items() if ks}}


def changed(project: Project, prod: Snapshot) -> list[str]:
    """Built assets whose code version differs from production's materializations, or that
    production never materialized, sorted."""
    versions: dict[str, set] = {}
    for (asset, _key), mat in prod.current.items():
        if mat.kind == "materialization":
            versions.setdefault(asset, set()).add(mat.code_version)
    return sorted(name for name, a in project.assets.items() if not a.is_source and (
        versions.get(name, set()) != {a.code_version}))


def to_build(project: Project, graph: AssetGraph, prod: Snapshot) -> tuple[list[str], list[str]]:
    """(changed, built): the changed assets, and those with their downstream in graph order."""
    found = changed(project, prod)
    closure = graph.downstream_closure(found) | set(found)
    return found, [n for n in graph.order if n in closure and not project.assets[n].is_source]


def merge(project: Project, prod: Snapshot, env: Snapshot, built: Iterable[str]) -> Snapshot:
    """The environment's view: its own records for ``built`` assets, production's for the
    rest (a source's newer observation of the two)."""
    mine = frozenset(built)

    def pick(prod_items: Mapping, env_items: Mapping) -> dict:
        out = {k: v for k, v in prod_items.items() if _asset(k) not in mine}
        out.update({k: v for k, v in env_items.items() if _asset(k) in mine})
        return out

    current = pick(prod.current, env.current)
    for key, mat in env.current.items():  # what the environment observed of a source
        if project.assets.get(key[0]) is not None and project.assets[key[0]].is_source and (
                key not in current or (mat.seq > current[key].seq
                                       and mat.data_version != current[key].data_version)):
            current[key] = mat
    return replace(env, current=current, attempts=pick(prod.attempts, env.attempts),
                   checks=pick(prod.checks, env.checks), max_seq=max(prod.max_seq, env.max_seq),
                   last_attempts=pick(prod.last_attempts, env.last_attempts),
                   check_counts=pick(prod.check_counts, env.check_counts),
                   lost=pick(prod.lost, env.lost),
                   warehouse_id=env.warehouse_id or prod.warehouse_id)


def _asset(key) -> str:
    return key[0] if isinstance(key, tuple) else key


def window(project: Project, health: Health, built: Iterable[str], latest: int,
           first: str | None = None, last: str | None = None) -> dict[str, tuple[str, ...]]:
    """The partitions previewed of each partitioned built asset: --from/--to, else its latest
    ``latest`` keys at the clock."""
    names = [n for n in built if project.assets[n].partitions is not None]
    if not names:
        return {}
    if first or last:
        return dict(requested_keys(project, health, names, [], first, last))
    return {n: tuple(parts.partition_keys(project.assets[n].partitions, health.now)[-latest:])
            for n in names}


def preview(project: Project, health: Health, graph: AssetGraph, prod: Snapshot,
            selected: list[str], *, first: str | None = None, last: str | None = None,
            force: bool = False, retry_failed: bool = True,
            command: str = "materialize") -> tuple[Plan, Preview]:
    """The plan of a preview: the selected built assets' window partitions that are not
    fresh in the environment (all of them with ``force``), and what it defers."""
    found, built = to_build(project, graph, prod)
    chosen = [n for n in built if n in set(selected)]
    keys = window(project, health, chosen, project.settings.preview_partitions, first, last)
    targets = {n: keys.get(n, health.assets[n].keys) for n in chosen}
    forced = frozenset((a, k) for a, ks in targets.items() for k in ks) if force else frozenset()
    req = Request(frozenset(chosen), targets, forced, retry_failed=retry_failed,
                  batch_size=project.settings.batch_size, read_published=force)
    info = Preview(project.settings.env, tuple(found), tuple(built),
                   tuple(n for n in graph.order if n not in set(built)), keys)
    return replace(build(project, health, graph.order, req, command), preview=info), info


def built_of(state) -> frozenset[str] | None:
    """The assets an environment builds (``state.base`` is production's snapshot); None in
    production, where every asset is built."""
    if getattr(state, "base", None) is None:
        return None
    return frozenset(to_build(state.project, state.graph, state.base)[1])


def confine(state, keys: Mapping[str, tuple[str, ...]],
            command: str) -> dict[str, tuple[str, ...]]:
    """A request cut to what an environment builds: an unchanged asset is read from
    production, never rebuilt (copied) in the environment; a UsageError when nothing is left."""
    built = built_of(state)
    if built is None:
        return dict(keys)
    out = {a: ks for a, ks in keys.items() if a in built}
    if keys and not out:
        env = state.project.settings.env
        raise UsageError(f"{command} --env {env}: {', '.join(sorted(keys))} do(es) not differ "
                         f"from production, so {env} reads them from production",
                         hint=f"Select what {env} builds (changed assets and their downstream: "
                              f"`duck plan --env {env}` lists them); nothing was run.")
    return out


def reconcile(state, selected: list[str], *, retry_failed: bool) -> Plan:
    """An environment's reconcile: what a preview would build now (the unhealthy partitions of
    the assets it builds, within its window); unchanged upstream stays production's."""
    return preview(state.project, state.health, state.graph, state.base, selected,
                   retry_failed=retry_failed, command="reconcile")[0]
