"""Source assets: data that arrives from outside. duck observes it, never builds it.

A file source's partition has arrived when its file exists; its data version is the file's size
and modification time, so a re-delivered file makes its downstream stale.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Iterable

from duck_cli.errors import ManifestError, Problem
from duck_cli.models import Asset

_PLACEHOLDER = re.compile(r"\{(key|date|hour|week|month|value)\}")


def is_per_partition(asset: Asset) -> bool:
    """Whether a file source names one file per partition (``{date}`` and friends in its path)."""
    return bool(asset.source and asset.source.path and _PLACEHOLDER.search(asset.source.path))


def file_for(asset: Asset, root: Path, key: str) -> Path:
    """The file (or glob) holding one partition of a per-partition file source.

    >>> from duck_cli.models import Source
    >>> a = Asset("raw", "source", source=Source(path="data/{date}.csv"))
    >>> str(file_for(a, Path("/p"), "2026-03-01"))
    '/p/data/2026-03-01.csv'
    """
    return root / _PLACEHOLDER.sub(lambda _m: key, asset.source.path)


def observe_files(asset: Asset, root: Path, keys: Iterable[str]) -> dict[str, str | None]:
    """Data version per partition key (None: not arrived) of a file source."""
    if is_per_partition(asset):
        return {k: _version([file_for(asset, root, k)], asset, root) for k in keys}
    files = sorted(Path(p) for p in glob.glob(str(root / asset.source.path)))
    return {k: _version(files, asset, root) for k in keys}


def confined(asset: Asset, root: Path, files: list[str]) -> list[str]:
    """``files``, refused (ManifestError) when one leads outside the project folder once links
    and '..' are followed: a source reads only the project's own files."""
    top = os.path.realpath(root).rstrip(os.sep)
    for name in files:
        real = os.path.realpath(name)
        if real != top and not real.startswith(top + os.sep):
            shown = os.path.relpath(name, root)
            raise ManifestError([Problem(
                f"source '{asset.name}': {shown} leads outside the project folder (to {real})",
                hint="duck reads source files only inside the project folder: copy the file "
                     "in rather than linking to it.", asset=asset.name)])
    return files


def _version(paths: list[Path], asset: Asset, root: Path) -> str | None:
    parts = []
    for path in paths:
        matches = sorted(glob.glob(str(path))) if glob.has_magic(str(path)) else [str(path)]
        for match in confined(asset, root, [m for m in matches if os.path.exists(m)]):
            try:
                st = os.stat(match)
            except OSError:
                continue
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts) if parts else None


def reader_sql(asset: Asset, root: Path, arrived: list[str]) -> str | None:
    """The SELECT a view over a file source runs (None when nothing has arrived)."""
    src = asset.source
    if is_per_partition(asset):
        files = [str(file_for(asset, root, k)) for k in arrived]
    else:
        files = sorted(glob.glob(str(root / src.path)))
    if not files:
        return None
    confined(asset, root, [f for f in files if not glob.has_magic(f)])
    reader = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}[src.format]
    listed = ", ".join(_literal(f) for f in files)
    options = "".join(f", {k} = {_option(v)}" for k, v in sorted(src.options.items())
                      if re.fullmatch(r"[a-z_]+", k))
    union = ", union_by_name = true" if len(files) > 1 and src.format != "json" else ""
    return f"SELECT * FROM {reader}([{listed}]{union}{options})"


def _literal(text: str) -> str:
    """A SQL string literal.

    >>> _literal("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _option(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_option(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return _literal(str(value))
