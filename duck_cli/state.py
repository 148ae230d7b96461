"""Reading state for a command: one catalog snapshot, live source observations, health.

Readers hold the catalog only for one transaction; if a writer died and left published data
unrecorded, the first reader that can take the write lock repairs it (see execute.recover).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import catalog as cat
from . import partitions as parts
from . import sources
from .graph import AssetGraph
from .health import Health, assess
from .models import Project


@dataclass(frozen=True)
class State:
    """What one command knows: the project, its graph, the catalog snapshot and health."""

    project: Project
    graph: AssetGraph
    snapshot: cat.Snapshot
    health: Health


def read_snapshot(project: Project) -> cat.Snapshot:
    """One catalog snapshot (empty when no catalog exists yet)."""
    with cat.open_catalog(project.settings.catalog, read_only=True,
                          wait=project.settings.wait_seconds) as c:
        return c.snapshot() if c is not None else cat.Snapshot.empty()


def observe_files(project: Project, now: datetime) -> dict[str, dict[str, str | None]]:
    """Live data versions of file sources (table sources come from the catalog)."""
    out = {}
    for asset in project.assets.values():
        if asset.is_source and asset.source.path:
            keys = parts.partition_keys(asset.partitions, now)
            out[asset.name] = sources.observe_files(asset, project.root, keys)
    return out


def load_state(project: Project, now: datetime, snapshot: cat.Snapshot | None = None) -> State:
    """Build the graph and assess health from a snapshot (read now unless given)."""
    graph = AssetGraph.build(project.assets)
    snap = snapshot if snapshot is not None else read_snapshot(project)
    health = assess(project, graph, snap, now, observe_files(project, now))
    return State(project, graph, snap, health)


def dead_runs(snap: cat.Snapshot) -> list[cat.RunRow]:
    """Runs the catalog says are running whose process is gone."""
    return [r for r in snap.active_runs if not cat.process_alive(r.pid, r.host)]
