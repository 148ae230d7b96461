"""Health per asset and partition, from the graph, a catalog snapshot and the clock.

Pure: the only inputs are the project, one snapshot, the observed source versions and ``now``.
Every unhealthy partition carries its reasons; `health.state` decides the states and roll-ups,
`health.blockers` finds what holds unhealthy partitions back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, NamedTuple

from duck_cli.graph import mapping as pmap
from duck_cli.graph import partitions as parts
from duck_cli.health import freshness
from duck_cli.health.state import Promise, State, asset_state, count, partition_state, with_breach
from duck_cli.records import Mat, RunStatus, Snapshot
from duck_cli.graph.dag import AssetGraph
from duck_cli.graph.scope import keys_of
from duck_cli.code_version import changed_parts, contract_change, reader_seq, schema_change
from duck_cli.models import Asset, Project

ROOT_CAUSES = ("source_missing", "check_failed", "last_run_failed")  # a fault of its own


class Reason(NamedTuple):
    """Why a partition is not healthy: a stable code and a sentence."""

    code: str  # never_materialized | code_changed | upstream_newer | source_missing |
    # upstream_stale | last_run_failed | check_failed | freshness_breached | data_lost
    message: str
    upstream: str | None = None
    breaking: bool = True  # False: a code change its downstream may ignore (see _code_reason)


class PartitionHealth(NamedTuple):
    """The state of one asset partition."""

    asset: str
    key: str
    state: State
    reasons: tuple[Reason, ...]
    seq: int  # the current materialization's sequence number (0: none)


@dataclass(frozen=True)
class AssetHealth:
    """The state of one asset: its partitions, freshness and latest checks."""

    asset: Asset
    keys: tuple[str, ...]
    partitions: Mapping[str, PartitionHealth]
    freshness: object | None  # freshness.FreshnessResult
    current: Mapping[str, Mat]
    # unhealthy partitions and counts, computed once: status asks for them several times
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def unhealthy(self) -> list[PartitionHealth]:
        """Partitions that are not fresh, in key order."""
        found = self._memo.get("unhealthy")
        if found is None:
            fresh, parts_ = State.FRESH, self.partitions
            found = self._memo["unhealthy"] = tuple(
                p for p in map(parts_.__getitem__, self.keys) if p.state != fresh)
        return list(found)

    def counts(self) -> dict[State, int]:
        """How many partitions are in each state."""
        found = self._memo.get("counts")
        if found is None:
            found = self._memo["counts"] = count(p.state for p in self.partitions.values())
        return dict(found)

    @property
    def promise(self) -> Promise | None:
        """Its freshness policy's verdict (None without a policy)."""
        return self.freshness.state if self.freshness is not None else None

    @property
    def state(self) -> State:
        """The asset's overall state (`state.asset_state`)."""
        return asset_state(self.counts(), self.promise)


@dataclass(frozen=True)
class Health:
    """Health of every asset in a project at one moment."""

    assets: Mapping[str, AssetHealth]
    now: datetime
    _maps: dict = field(default_factory=dict, compare=False, repr=False)

    def partition(self, asset: str, key: str) -> PartitionHealth:
        """One partition's health."""
        return self.assets[asset].partitions[key]

    def dep_map(self, asset: Asset, index: int) -> Mapping[str, tuple[str, ...]]:
        """Upstream keys per key of ``asset`` through its ``index``-th dep (computed once)."""
        cache_key = (asset.name, index)
        found = self._maps.get(cache_key)
        if found is None:
            dep = asset.deps[index]
            up = self.assets[dep.asset]
            found = upstream_keys(asset, up.asset, dep, list(self.assets[asset.name].keys),
                                  list(up.keys))
            self._maps[cache_key] = found
        return found


@dataclass(frozen=True)
class Assessment:
    """What one command knows: the project, its graph, the catalog snapshot and health."""

    project: Project
    graph: AssetGraph
    snapshot: Snapshot
    health: Health
    base: Snapshot | None = None  # in an environment: production's, which it defers to


def state_of(project: Project, snap: Snapshot, now: datetime,
             observed: Mapping[str, Mapping[str, str | None]],
             scope: Mapping[str, frozenset[str]] | None = None) -> Assessment:
    """Build the graph and assess health from one snapshot and the observed source versions."""
    graph = AssetGraph.build(project.assets)
    return Assessment(project, graph, snap, assess(project, graph, snap, now, observed, scope))


def assess(project: Project, graph: AssetGraph, snap: Snapshot, now: datetime,
           observed: Mapping[str, Mapping[str, str | None]],
           scope: Mapping[str, frozenset[str]] | None = None) -> Health:
    """Compute the health of every asset, upstream first; with a ``scope`` (asset -> keys,
    closed upstream: `graph.scope`) only of those partitions, and no freshness (a deadline is
    about an asset's newest partition, which a backfill of old days does not look at)."""
    out: dict[str, AssetHealth] = {}
    maps: dict = {}  # dep mappings computed here, handed to Health so planning reuses them
    virtual = snap.max_seq + 1  # seq of source data seen on disk but not recorded yet
    for name in graph.order:
        asset = project.assets[name]
        keys = tuple(keys_of(scope, asset, now))
        current = {k: m for k in keys if (m := snap.current.get((name, k))) is not None}
        if asset.is_source:
            states = _source_states(asset, keys, current, observed.get(name), virtual)
        else:
            states = _built_states(project, asset, keys, current, snap, out, maps)
        fresh = _freshness(asset, keys, current, out, now) if scope is None else None
        breached = fresh is not None and fresh.state == Promise.STALE
        if breached and fresh.required_key in states:
            states[fresh.required_key] = _with_freshness(states[fresh.required_key], fresh)
        elif breached and not asset.partitions:
            states[""] = _with_freshness(states[""], fresh)
        out[name] = AssetHealth(asset, keys, states, fresh, current)
    return Health(out, now, maps)


def _source_states(asset: Asset, keys, current, live: Mapping[str, str | None] | None,
                   virtual: int) -> dict[str, PartitionHealth]:
    states = {}
    for k in keys:
        mat = current.get(k)
        version = live.get(k, mat.data_version if mat else None) if live is not None else (
            mat.data_version if mat else None)
        if version is None:
            label = f"partition {k} " if k else ""
            reason = Reason("source_missing", f"source {label}has not arrived")
            states[k] = PartitionHealth(asset.name, k, State.MISSING, (reason,), 0)
        else:
            seq = mat.seq if mat and mat.data_version == version else virtual
            states[k] = PartitionHealth(asset.name, k, State.FRESH, (), seq)
    return states


def _built_states(project: Project, asset: Asset, keys, current, snap: Snapshot,
                  done: Mapping[str, AssetHealth], maps: dict) -> dict[str, PartitionHealth]:
    newest = _upstream_newest(project, asset, keys, done, maps)
    view = asset.materialize.strategy == "view"
    sources = frozenset(d.asset for d in asset.deps if project.assets[d.asset].is_source)
    name, version, attempts, lost = asset.name, asset.code_version, snap.attempts, snap.lost
    never = (Reason("never_materialized", "never materialized"),)  # one shared tuple
    new = tuple.__new__  # PartitionHealth without a Python call each
    out = {}
    for k in keys:  # the common cases first: 100,000 partitions of one asset take this loop
        mat = current.get(k)
        attempt = attempts.get((name, k)) if attempts else None
        if attempt is None or attempt.status != RunStatus.FAILED:
            ups = newest.get(k)
            if mat is None and (not lost or (name, k) not in lost):
                out[k] = new(PartitionHealth, (name, k, State.MISSING, never, 0))
                continue
            if mat is not None and not ups and mat.code_version == version:
                out[k] = new(PartitionHealth, (name, k, State.FRESH, (),
                                               reader_seq(mat.seq, mat.data_version)))
                continue
        out[k] = _built_state(asset, k, mat, attempt, snap, newest.get(k, ()), view, sources)
    return out


def _built_state(asset: Asset, k: str, mat, attempt, snap: Snapshot, newest, view: bool,
                 sources: frozenset[str]) -> PartitionHealth:
    """One built partition's state with every reason that applies."""
    failed = attempt is not None and attempt.status == RunStatus.FAILED
    reasons: dict[str, Reason] = {}
    if failed:
        code = "check_failed" if attempt.error_kind == "check" else "last_run_failed"
        reasons[code] = Reason(code, attempt.error or "the last run failed")
        _since(reasons, asset, attempt.code_version, attempt.input_seq or 0, newest,
               "the failure", view, sources)
    if mat is None and (asset.name, k) in snap.lost:
        reasons["data_lost"] = Reason("data_lost", snap.lost[(asset.name, k)])
    elif mat is None:
        reasons["never_materialized"] = Reason("never_materialized", "never materialized")
    elif not failed:
        _since(reasons, asset, mat.code_version, mat.seq, newest, "its last materialization",
               view, sources)
    state = partition_state(failed=failed, materialized=mat is not None, reasons=bool(reasons))
    return PartitionHealth(asset.name, k, state, tuple(reasons.values()),
                           reader_seq(mat.seq, mat.data_version) if mat else 0)


def _since(reasons: dict, asset: Asset, code_version, seq: int, newest, what: str,
           view: bool, sources: frozenset[str] | None = None) -> None:
    """Add code_changed / upstream_newer when SQL or inputs changed after ``what``."""
    if code_version != asset.code_version and "code_changed" not in reasons:
        reasons["code_changed"] = _code_reason(code_version, asset.code_version, what)
    for dep, up_seq, up_stale, up_key in newest:
        if view:
            continue
        if up_seq > seq and "upstream_newer" not in reasons:
            # a source is observed (its data arrived), not materialized by duck
            verb = "arrived" if sources is not None and dep in sources else "materialized"
            label = f"{dep} {up_key}" if up_key else dep
            reasons["upstream_newer"] = Reason("upstream_newer", f"{label} {verb} since {what}",
                                               dep)
        elif up_stale and "upstream_stale" not in reasons:
            reasons["upstream_stale"] = Reason("upstream_stale",
                                               f"{dep} is stale and will be rebuilt", dep)


def _code_reason(old: str | None, new: str, what: str) -> Reason:
    """code_changed, in words: the variables and macros that changed, the declared columns
    (and whether that breaks what downstream reads), or else the SQL or settings."""
    parts = changed_parts(old, new)
    moved = schema_change(old, new)
    if moved is not None:  # readers that name it qualified must read the new place
        return Reason("code_changed", f"{moved} since {what}", breaking=True)
    contract = contract_change(old, new)
    if contract is None:
        changed = ", ".join(parts) if parts else "SQL or settings"
        return Reason("code_changed", f"{changed} changed since {what}")
    words, breaking = contract
    breaking = breaking or bool(parts)  # a variable or macro changes values downstream reads
    effect = "breaking: downstream is rebuilt" if breaking else "not breaking: downstream is kept"
    return Reason("code_changed", f"contract changed ({', '.join(parts + words)}; {effect}) "
                  f"since {what}", breaking=breaking)


def breaks_readers(p: PartitionHealth) -> bool:
    """Whether what makes a partition stale reaches its readers (not only a code change that
    added nullable columns)."""
    return any(r.breaking for r in p.reasons)


def _upstream_newest(project: Project, asset: Asset, keys, done, maps: dict) -> dict[str, list]:
    """For each key, (upstream asset, highest seq among the upstream partitions it reads, whether
    one of them is stale, the key holding that seq)."""
    out: dict[str, list] = {k: [] for k in keys} if asset.deps else {}
    for index, dep in enumerate(asset.deps):
        up = done[dep.asset]
        mapping = upstream_keys(asset, project.assets[dep.asset], dep, list(keys), list(up.keys))
        maps[(asset.name, index)] = mapping
        seqs = {k: p.seq for k, p in up.partitions.items()}
        stale = {k for k, p in up.partitions.items() if p.state == State.STALE and breaks_readers(p)}
        for k, ups in mapping.items():
            if ups:
                newest = max(ups, key=seqs.__getitem__)  # named in the reason (offset deps)
                out[k].append((dep.asset, seqs[newest],
                               bool(stale) and any(u in stale for u in ups), newest))
    return out


def upstream_keys(asset: Asset, up: Asset, dep, keys: list[str], up_keys: list[str]):
    """Which upstream keys each key of ``asset`` reads through ``dep``."""
    return pmap.upstream_map(asset.partitions, up.partitions, dep, keys, up_keys)


def _freshness(asset: Asset, keys, current: Mapping[str, Mat], done, now: datetime):
    if asset.freshness is None:
        return None
    return freshness.evaluate(asset.freshness, now, **freshness_inputs(asset, keys, current, done))


def live_times(asset: Asset, current: Mapping[str, Mat], done: Mapping[str, "AssetHealth"]):
    """What freshness judges: a view is as fresh as the oldest of its upstreams' latest data."""
    if asset.materialize is None or asset.materialize.strategy != "view" or not asset.deps \
            or "" not in current:
        return current
    latest = []
    for dep in asset.deps:
        mats = done[dep.asset].current.values() if dep.asset in done else ()
        if not mats:
            return current
        latest.append(max(mats, key=lambda m: m.created_at))
    return {"": min(latest, key=lambda m: m.created_at)}


def freshness_inputs(asset: Asset, keys, current: Mapping[str, Mat],
                     done: Mapping[str, "AssetHealth"]) -> dict:
    """The keyword arguments freshness.evaluate needs for an asset (a view's times are its
    upstreams', `live_times`; ``done`` holds the upstreams' health)."""
    defn = asset.partitions
    timed = defn is not None and defn.kind != "static"
    current = live_times(asset, current, done)
    return {"materialized_at": {k: m.created_at for k, m in current.items()},
            "keys": list(keys),
            "period_end": (lambda k: parts.bounds(defn, k)[1]) if timed else None}


def upstream_partitions(project: Project, health: Health, asset: str, key: str,
                        *, blocking_only: bool = False) -> list[tuple]:
    """The (upstream asset, key) pairs one partition reads, in dep order.

    With ``blocking_only``, deps that read every upstream partition (mapping ``all``, or an
    unpartitioned reader of a partitioned upstream) are left out: such a reader builds from
    whatever is published, so one unhealthy upstream slice does not hold it back.
    """
    a = project.assets[asset]
    out = []
    for index, dep in enumerate(a.deps):
        if blocking_only and reads_all(a, project.assets[dep.asset], dep):
            continue
        out.extend((dep.asset, k) for k in health.dep_map(a, index).get(key, ()))
    return out


def reads_all(asset: Asset, up: Asset, dep) -> bool:
    """Whether a dep reads every partition of a partitioned upstream."""
    return up.partitions is not None and (dep.mapping == "all" or asset.partitions is None)


def _with_freshness(p: PartitionHealth, fresh) -> PartitionHealth:
    reason = Reason("freshness_breached", f"freshness breached: {fresh.message}")
    return p._replace(state=with_breach(p.state), reasons=p.reasons + (reason,))
