"""Shell completion: asset names and partition keys of the project in the current folder."""

from __future__ import annotations

from duck_cli.cli.env import Env
from duck_cli.cli.options import Target
from duck_cli.cli.project import open_project


def _project(env: Env):
    try:
        return open_project(Target(), env)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return None


def complete_assets(incomplete: str, env: Env | None = None) -> list[str]:
    """Asset names for shell completion (from the manifests in the current project)."""
    project = _project(env or Env.from_process())
    if project is None:
        return []
    return [n for n in project.assets if n.startswith(incomplete.lstrip("+"))]


def complete_keys(incomplete: str, env: Env | None = None) -> list[str]:
    """Partition keys for shell completion (every key of every partitioned asset)."""
    from duck_cli.graph import partitions as parts

    env = env or Env.from_process()
    project = _project(env)
    if project is None:
        return []
    now, keys = env.now(), set()
    for asset in project.assets.values():
        if asset.partitions is not None:
            keys.update(parts.partition_keys(asset.partitions, now))
    return sorted(k for k in keys if k.startswith(incomplete))[:200]
