"""Backfills: recorded requests to rebuild historical partitions, resumable until done."""

from __future__ import annotations

from duck_cli.plan import builder as planner, defer
from duck_cli.errors import DuckError, UsageError
from duck_cli.records import Backfill
from duck_cli.graph.dag import AssetGraph
from duck_cli.graph.scope import Scope, upstream_closure
from duck_cli.graph.select import select
from duck_cli.health.state import State
from duck_cli.sql import PROD
from duck_cli.models import is_remote


def check_options(selection: list[str], opts) -> None:
    """Exactly one way of naming partitions (or --resume), and a selection unless resuming."""
    ways = [bool(opts.keys or opts.first or opts.last), opts.missing, opts.failed,
            bool(opts.resume)]
    if sum(ways) != 1:
        raise UsageError("backfill needs exactly one of --partition/--from/--to, --missing, "
                         "--failed or --resume",
                         hint="e.g. duck backfill zone_metrics --from 2026-03-01 --to 2026-03-14")
    if not selection and not opts.resume:
        raise UsageError("backfill needs a selection", hint="e.g. duck backfill zone_metrics "
                         "--partition 2026-03-12 (or +zone_metrics for its upstream too)")


def requested(state, selection: list[str], opts) -> dict[str, tuple[str, ...]]:
    """The partitions a backfill asks for, per asset."""
    names = [n for n in select(state.project.assets, state.graph, selection)
             if not state.project.assets[n].is_source]
    if opts.missing or opts.failed:
        want = State.MISSING if opts.missing else State.FAILED
        out = {n: tuple(p.key for p in state.health.assets[n].unhealthy() if p.state == want)
               for n in names}
        return {n: ks for n, ks in out.items() if ks}
    return planner.requested_keys(state.project, state.health, names, opts.keys, opts.first,
                                  opts.last)


def scope_of(project, selection: list[str], opts, now) -> Scope | None:
    """The partitions a backfill that names its keys is about (them and what they read), so
    its session observes and assesses only those; None (everything) for --missing, --failed,
    --resume and --downstream, which need the whole picture (and see `keys_scope`)."""
    if not (opts.keys or opts.first or opts.last) or opts.downstream or opts.resume:
        return None
    return keys_scope(project, selection, opts.keys, opts.first, opts.last, now)


def keys_scope(project, selection: list[str], keys, first: str | None, last: str | None,
               now) -> Scope | None:
    """The partitions a command that names its keys (`backfill`, `materialize --partition`)
    is about: them and every upstream partition they read. None (everything) in an
    environment (it merges production's state), with a remote source (listed whole anyway),
    or when the request is wrong (planning then says why)."""
    if project.settings.env != PROD or any(
            a.is_source and a.source.path and is_remote(a.source.path)
            for a in project.assets.values()):
        return None
    try:
        graph = AssetGraph.build(project.assets)
        names = [n for n in select(project.assets, graph, selection)
                 if not project.assets[n].is_source]
        requested = planner.requested_at(project, now, names, list(keys), first, last)
        return upstream_closure(project, graph.order, requested, now)
    except DuckError:
        return None


def make_plan(state, selection: list[str], opts, resume: Backfill | None) -> planner.Plan:
    """The backfill's plan: exactly the requested partitions (and downstream when asked)."""
    if resume is not None:
        keys = _unfinished(state, resume)
        downstream = False
    else:
        keys = requested(state, selection, opts)
        downstream = opts.downstream
    keys = defer.confine(state, keys, "backfill")  # in an environment: only what it builds
    batch = opts.batch_size or state.project.settings.batch_size
    p = planner.for_backfill(state.project, state.health, state.graph, list(keys), keys,
                             downstream=downstream, batch_size=batch)
    if opts.max_partitions is not None and p.partitions > opts.max_partitions:
        raise UsageError(f"the backfill would rebuild {p.partitions} partitions, more than "
                         f"--max-partitions {opts.max_partitions}",
                         hint="Narrow the range or the selection, or raise --max-partitions.")
    return p


def _unfinished(state, bf: Backfill) -> dict[str, tuple[str, ...]]:
    """Requested partitions not yet materialized by one of the backfill's runs."""
    runs = set(bf.run_ids)
    out = {}
    for asset, keys in bf.requested.items():
        if asset not in state.project.assets:
            continue
        current = state.health.assets[asset].current
        left = tuple(k for k in keys if k not in current or current[k].run_id not in runs)
        if left:
            out[asset] = left
    if not out:
        raise UsageError(f"backfill {bf.backfill_id} has nothing left to do",
                         hint="Every requested partition was materialized by its runs.")
    return out

