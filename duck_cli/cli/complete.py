"""Shell completion: asset names, selectors, partition keys, run and backfill ids.

Each completer reads the project the command line names (``-p DIR`` or DUCK_PROJECT, else the
current folder) and never fails loudly: a broken project completes nothing.
"""

from __future__ import annotations

from pathlib import Path

from duck_cli.cli.env import Env
from duck_cli.cli.options import Target
from duck_cli.cli.project import open_project
from duck_cli.errors import DuckError
from duck_cli.graph.select import METHODS

MAX = 200  # a shell shows no more than this usefully


def project_dir(ctx) -> Path | None:
    """The project folder named by -p on the command line being completed (or None: then
    DUCK_PROJECT, else the current folder)."""
    while ctx is not None:
        value = (ctx.params or {}).get("project")
        if value:
            return Path(value)
        ctx = ctx.parent
    return None


def _load(path: Path | None, env: Env):
    try:
        return open_project(Target(path), env)
    except (DuckError, OSError):
        return None


def selectors(path: Path | None, incomplete: str, env: Env | None = None) -> list[str]:
    """Completions for a selector: names (after any +, 2+ or @), tag:, owner:, kind: values."""
    project = _load(path, env or Env.from_process())
    if project is None:
        return []
    head, _, word = incomplete.rpartition(",")  # complete the last part of an intersection
    prefix = "@" if word.startswith("@") else word[:len(word) - len(word.lstrip("0123456789+"))]
    word = word[len(prefix):]
    lead = f"{head}," if head else ""
    attr, sep, value = word.partition(":")
    if sep and attr in METHODS:
        values = _attribute_values(project, attr)
        return [f"{lead}{prefix}{attr}:{v}" for v in values if v.startswith(value)][:MAX]
    names = [*project.assets, *(f"{m}:" for m in METHODS)]
    return [f"{lead}{prefix}{n}" for n in names if n.startswith(word)][:MAX]


def _attribute_values(project, attr: str) -> list[str]:
    assets = project.assets.values()
    if attr == "tag":
        found = {t for a in assets for t in a.tags}
    elif attr == "owner":
        found = {a.owner for a in assets if a.owner}
    elif attr == "schema":
        found = {a.schema for a in assets}
    else:
        found = {a.kind for a in assets}
    return sorted(found)


def targets(path: Path | None, incomplete: str, env: Env | None = None) -> list[str]:
    """Asset and data product names (for `why` and `runs --asset`)."""
    project = _load(path, env or Env.from_process())
    if project is None:
        return []
    return [n for n in (*project.assets, *project.products) if n.startswith(incomplete)][:MAX]


def keys(path: Path | None, incomplete: str, env: Env | None = None) -> list[str]:
    """Partition keys of every partitioned asset, newest last."""
    from duck_cli.graph import partitions as parts

    env = env or Env.from_process()
    project = _load(path, env)
    if project is None:
        return []
    try:
        now = env.now()
    except DuckError:
        return []
    found: set[str] = set()
    for asset in project.assets.values():
        if asset.partitions is not None:
            found.update(parts.partition_keys(asset.partitions, now))
    return sorted(k for k in found if k.startswith(incomplete))[-MAX:]


def runs(path: Path | None, incomplete: str, env: Env | None = None) -> list[str]:
    """Recorded run ids, newest first."""
    return _ids(path, incomplete, env, lambda c: [r.run_id for r in c.runs(MAX, None)])


def backfills(path: Path | None, incomplete: str, env: Env | None = None) -> list[str]:
    """Recorded backfill ids, newest first."""
    return _ids(path, incomplete, env, lambda c: [b.backfill_id for b in c.backfills()])


def _ids(path: Path | None, incomplete: str, env: Env | None, read) -> list[str]:
    from duck_cli.state.backends import open_state

    project = _load(path, env or Env.from_process())
    if project is None:
        return []
    try:
        with open_state(project.settings, read_only=True, wait=0) as c:
            found = read(c) if c else []
    except Exception:  # noqa: BLE001 - a locked or unreadable catalog completes nothing, quietly
        return []
    return [i for i in found if i.startswith(incomplete)][:MAX]
