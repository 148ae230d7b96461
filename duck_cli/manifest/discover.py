"""Finding manifests: the ``*.yaml``/``*.yml`` files under duck.yaml's ``paths:`` that no
``ignore:`` glob (or a well-known compose file) names."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable

SETTINGS_FILE = "duck.yaml"

# Well-known YAML files that live beside projects and are never manifests.
DEFAULT_IGNORE = ("docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml")


def discover(root: Path, paths: Iterable[str] = (".",), ignore: Iterable[str] = ()) -> list[Path]:
    """Every manifest under ``paths``, sorted: ``*.yaml``/``*.yml`` outside dot-folders, not
    dot-files, duck.yaml or what an ``ignore`` glob (or a well-known compose file) matches."""
    globs = (*DEFAULT_IGNORE, *ignore)
    found: set[Path] = set()
    for base in paths:
        for folder, dirs, files in os.walk(root / base):
            here = Path(folder)
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"
                       and not ignored(_rel(root, here / d), globs)]
            found.update(here / n for n in files if n.endswith((".yaml", ".yml"))
                         and not n.startswith(".") and not (here == root and n == SETTINGS_FILE)
                         and not ignored(_rel(root, here / n), globs))
    return sorted(found, key=lambda p: _rel(root, p))


def _rel(root: Path, path: Path) -> str:
    return os.path.normpath(os.path.relpath(path, root)).replace(os.sep, "/")


def ignored(rel: str, globs: Iterable[str]) -> bool:
    """Whether a project-relative path matches an ignore glob (a folder's glob covers its files).

    >>> ignored("deploy/k8s.yaml", ["deploy/**"]), ignored("deploy", ["deploy/"])
    (True, True)
    >>> ignored("sub/docker-compose.yml", ["docker-compose*.yml"]), ignored("a.yaml", ["b*"])
    (True, False)
    """
    name = rel.rsplit("/", 1)[-1]
    for glob in globs:
        g = glob.strip().rstrip("/")
        if fnmatch.fnmatchcase(rel, g) or ("/" not in g and fnmatch.fnmatchcase(name, g)):
            return True
        if g.endswith("/**") and (rel == g[:-3] or rel.startswith(g[:-2])):
            return True
    return False
