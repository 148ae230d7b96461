"""A pickle cache of validated projects, so commands start without jsonschema or duckdb.

The key covers duck's own code, the project root, the manifest list and bytes, and duck.yaml;
the entry lists the SQL files read with their hashes, checked on every hit. Only valid projects
are cached, and any failure to read or write the cache only costs a full validation.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Iterable

from duck_cli.models import Project

CACHE_DIR = ".duck/cache"
CACHE_FORMAT = 2  # bump when the pickled models change shape
KEEP = 3  # cache files kept per project
_SHAPERS = ("../models.py", "../errors.py", "../../schemas/manifest.schema.json",
            "../schemas/manifest.schema.json")  # beside manifest/*.py, what shapes a Project


def cache_key(root: Path, files: Iterable[tuple[str, bytes]], settings: bytes | None) -> str:
    """The key of a project's cache entry: hex sha256 over everything that shapes the Project."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{_code_stamp()}\0{root}\0".encode())
    digest.update(b"settings\0" + (settings if settings is not None else b"-") + b"\0")
    for file, data in sorted(files):
        digest.update(f"{file}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _code_stamp() -> str:
    """duck's version, as the size and modification time of the modules that build a Project."""
    here = Path(__file__).resolve().parent
    stamps = []
    for name in sorted(p.name for p in here.glob("*.py")) + list(_SHAPERS):
        try:
            stat = (here / name).stat()
        except OSError:
            continue
        stamps.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(stamps)


def cache_path(root: Path, key: str) -> Path:
    """Where the entry for ``key`` lives."""
    return root / CACHE_DIR / f"project-{key[:32]}.pickle"


def read_cache(root: Path, key: str) -> Project | None:
    """The cached Project for ``key``, or None (missing, corrupt, or an SQL file changed)."""
    try:
        with cache_path(root, key).open("rb") as handle:
            entry = pickle.load(handle)
    except Exception:  # a corrupt or foreign pickle can raise nearly anything; it is just a miss
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not _sql_files_unchanged(root, entry):
        return None
    project = entry.get("project")
    return project if isinstance(project, Project) else None


def _sql_files_unchanged(root: Path, entry: dict[str, Any]) -> bool:
    for rel, digest in (entry.get("sql_files") or {}).items():
        try:
            if hashlib.sha256((root / rel).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


def write_cache(root: Path, key: str, project: Project, sql_files: dict[str, bytes]) -> None:
    """Store the entry and prune old ones; never raises (read-only folders just go uncached)."""
    path = cache_path(root, key)
    entry = {"key": key, "project": project,
             "sql_files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sql_files.items()}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
        _prune(path.parent, keep=path)
    except Exception:  # OSError, or a model that cannot be pickled: the cache is an optimization
        _unlink(tmp)


def _prune(folder: Path, keep: Path) -> None:
    entries = sorted(folder.glob("project-*.pickle"), key=_mtime, reverse=True)
    for old in [e for e in entries if e != keep][KEEP - 1:]:
        _unlink(old)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
