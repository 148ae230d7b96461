"""What a writing session keeps beside the state: the source files' sniffed headers (a cache)
and the clear error for a full disk or a damaged file met while writing."""

from __future__ import annotations

import errno
import re
from contextlib import contextmanager
from typing import Iterator

from duck_cli.errors import StateError
from duck_cli.models import Project
from duck_cli.state.versions import ShardedCache


def load_headers(s) -> ShardedCache:
    """Source files' columns by content version, as sniffed by earlier commands (read shard by
    shard as steps ask for them)."""
    return ShardedCache(s.settings.catalog.parent / "cache" / "headers")


@contextmanager
def storage_errors(project: Project) -> Iterator[None]:
    """A full disk or a damaged file met while writing: one clear message naming the file,
    instead of DuckDB's traceback. Published data is safe either way: each publish is one
    transaction, and the ledger lets the next command record what the catalog missed."""
    from duck_cli.engine import duckdb

    try:
        yield
    except (duckdb.Error, OSError) as err:
        text = str(err)
        full = any(w in text for w in ("No space left", "File too large", "Disk quota")) or \
            getattr(err, "errno", None) in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        if not full and "Corrupt database file" not in text:
            raise
        raise damage(project, err, full) from err


def damage(project: Project, err: Exception, full: bool) -> StateError:
    """The StateError for a disk that filled up or a file found damaged."""
    named = re.search(r'file "([^"]+)"', str(err))
    target = named.group(1) if named else getattr(err, "filename", None) or \
        f"{project.settings.warehouse} or {project.settings.catalog}"
    if full:
        return StateError(f"the disk is full: duck could not write {target}", hint=(
            "Nothing was lost: the data and records committed before stay as they were, and the "
            "next command records anything published but not yet recorded. Free some space, "
            "then run the command again."))
    return StateError(f"{target} is damaged: {str(err).splitlines()[0]}", hint=(
        "Run `duck doctor` to see which file and how to recover (restore it from a backup, or "
        "`duck doctor --fix` for the catalog)."))
