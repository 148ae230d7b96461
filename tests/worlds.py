"""Random asset worlds for property tests: a project, a catalog snapshot and their health."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hypothesis import strategies as st

from duck_cli.records import Attempt, Mat, Snapshot
from duck_cli.graph.dag import AssetGraph
from duck_cli.health.assess import assess
from duck_cli.models import Asset, Dep, Materialize, Project, Settings, Source

NOW = datetime(2026, 3, 13, 7, 30, tzinfo=timezone.utc)
BUILT_STATES = ("fresh", "code_changed", "never", "failed")


@st.composite
def worlds(draw):
    """A random DAG of unpartitioned assets: sources first, each with a random state."""
    n = draw(st.integers(3, 8))
    n_sources = draw(st.integers(1, 2))
    ups = {}
    for i in range(n_sources, n):
        ups[i] = sorted(draw(st.sets(st.integers(0, i - 1), min_size=1, max_size=3)))
    states = {i: draw(st.sampled_from(("present", "present", "missing"))) for i in range(n_sources)}
    states.update({i: draw(st.sampled_from(BUILT_STATES)) for i in range(n_sources, n)})
    selected = draw(st.sets(st.integers(n_sources, n - 1), min_size=1))
    return n, n_sources, ups, states, sorted(selected)


def _name(i: int) -> str:
    return f"a{i}"


def _project_and_snapshot(n, n_sources, ups, states):
    assets, current, attempts, seq = {}, {}, {}, 0
    for i in range(n):
        name = _name(i)
        if i < n_sources:
            assets[name] = Asset(name, "source", source=Source(table=f"src{i}"), code_version="s")
            if states[i] == "present":
                seq += 1
                current[(name, "")] = Mat(seq, name, "", None, None, NOW, "s", "v1", None,
                                          "observation")
            continue
        assets[name] = Asset(name, "table", deps=tuple(Dep(_name(u)) for u in ups[i]),
                             materialize=Materialize("table", "SELECT 1"), code_version="v1")
        state = states[i]
        if state in ("fresh", "code_changed", "failed"):
            seq += 1
            version = "v1" if state == "fresh" else "v0"
            current[(name, "")] = Mat(seq, name, "", "r1", 0, NOW, version, None, 1,
                                      "materialization")
        if state == "failed":
            attempts[(name, "")] = Attempt(seq, "r2", 0, name, "", "failed", "boom", "sql", "v0",
                                           NOW, seq)
    settings_ = Settings(Path("/nowhere/w.duckdb"), Path("/nowhere/c.duckdb"))
    project = Project(Path("/nowhere"), settings_, assets)
    return project, Snapshot(current, attempts, {}, (), seq)


def assessed(world):
    """A generated world's project, graph, snapshot and health (as duck assesses it at NOW)."""
    n, n_sources, ups, states, _selected = world
    project, snap = _project_and_snapshot(n, n_sources, ups, states)
    graph = AssetGraph.build(project.assets)
    return project, graph, snap, assess(project, graph, snap, NOW, {})


DAYS = 6  # partitions per daily asset in a partitioned world
START = datetime(2026, 3, 7, tzinfo=timezone.utc)  # so that NOW has exactly DAYS daily keys
PARTITION_STATES = ("fresh", "fresh", "code_changed", "never", "failed", "check_failed")


@st.composite
def partitioned_worlds(draw):
    """A random DAG of daily and unpartitioned assets, each partition in a random state.

    Deps map daily to daily by identity or a one-day offset, or read every day (``all``, or an
    unpartitioned reader): the mappings that decide whether one bad day blocks a reader.
    """
    n = draw(st.integers(3, 9))
    n_sources = draw(st.integers(1, 2))
    daily = {i: draw(st.booleans()) or i < n_sources for i in range(n)}
    deps = {}
    for i in range(n_sources, n):
        ups = sorted(draw(st.sets(st.integers(0, i - 1), min_size=1, max_size=3)))
        deps[i] = [(u, draw(st.sampled_from(("auto", "auto", "offset", "all")))
                    if daily[i] and daily[u] else "auto") for u in ups]
    keys = {i: [f"2026-03-{7 + d:02d}" for d in range(DAYS)] if daily[i] else [""]
            for i in range(n)}
    states = {(i, k): draw(st.sampled_from(("present", "present", "missing")) if i < n_sources
                           else st.sampled_from(PARTITION_STATES))
              for i in range(n) for k in keys[i]}
    return n, n_sources, daily, deps, keys, states


def _partitioned_project(n, n_sources, daily, deps, keys, states):
    from duck_cli.models import TimePartitions

    day = TimePartitions("daily", START.replace(tzinfo=None), column="d")
    assets, current, attempts, seq = {}, {}, {}, 0
    for i in range(n):
        name, defn = _name(i), day if daily[i] else None
        if i < n_sources:
            assets[name] = Asset(name, "source", source=Source(table=f"src{i}"), code_version="s",
                                 partitions=defn)
        else:
            assets[name] = Asset(name, "table", materialize=Materialize("incremental" if defn
                                                                        else "table", "SELECT 1"),
                                 deps=tuple(Dep(_name(u), m, -1 if m == "offset" else 0)
                                            for u, m in deps[i]),
                                 partitions=defn, code_version="v1")
        for k in keys[i]:
            state = states[(i, k)]
            if state in ("missing", "never"):
                continue
            seq += 1
            version = "v0" if state == "code_changed" else "s" if i < n_sources else "v1"
            kind = "observation" if i < n_sources else "materialization"
            current[(name, k)] = Mat(seq, name, k, "r1", 0, NOW, version,
                                     "v1" if i < n_sources else None, 1, kind)
            if state in ("failed", "check_failed"):
                attempts[(name, k)] = Attempt(seq, "r2", 0, name, k, "failed", "boom",
                                              "check" if state == "check_failed" else "sql", "v1",
                                              NOW, seq)
    settings_ = Settings(Path("/nowhere/w.duckdb"), Path("/nowhere/c.duckdb"))
    return Project(Path("/nowhere"), settings_, assets), Snapshot(current, attempts, {}, (), seq)


def assessed_partitioned(world):
    """A generated partitioned world's project, graph, snapshot and health at NOW."""
    project, snap = _partitioned_project(*world)
    graph = AssetGraph.build(project.assets)
    return project, graph, snap, assess(project, graph, snap, NOW, {})
