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
