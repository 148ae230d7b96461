"""Source assets: data that arrives from outside. duck observes it, never builds it.

A file source's partition has arrived when its file exists; its data version is the hash of the
file's content (`versions`), so a re-delivered file with new bytes makes its downstream stale and
a checked-out or touched copy with the same bytes does not. Remote files (s3://, https://, ...)
are listed through DuckDB (`remote`), and their version is what the store reports.

`location` is the one place a source path becomes a file name or URL: extend it, not its callers.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Iterable

from duck_cli.errors import ManifestError, Problem
from duck_cli.models import Asset, is_remote
from duck_cli.state import versions as ver

_PLACEHOLDER = re.compile(r"\{(key|date|hour|week|month|value)\}")
_PLAIN_KEY = re.compile(r"[^*?\[/]+")  # a key that is a plain file name, no glob, no folder
READERS = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}
FEW = 32  # up to this many partitions' files are found by a stat each, not a folder listing


def is_per_partition(asset: Asset) -> bool:
    """Whether a file source names one file per partition (``{date}`` and friends in its path)."""
    return bool(asset.source and asset.source.path and _PLACEHOLDER.search(asset.source.path))


def location(asset: Asset, root: Path, key: str | None = None) -> str:
    """Where a source's files are: a local path (or glob) under the project root, or a URL;
    with ``key``, the file (or glob) of that one partition.

    >>> from duck_cli.models import Source
    >>> a = Asset("raw", "source", source=Source(path="data/{date}.csv"))
    >>> location(a, Path("/p"), "2026-03-01")
    '/p/data/2026-03-01.csv'
    """
    path = asset.source.path
    if key is not None:
        path = _PLACEHOLDER.sub(lambda _m: key, path)
    return path if is_remote(path) else str(root / path)


def file_for(asset: Asset, root: Path, key: str) -> Path:
    """The file (or glob) holding one partition of a per-partition local file source."""
    return Path(location(asset, root, key))


def pattern(asset: Asset, root: Path) -> str:
    """A glob over every partition's file (placeholders become ``*``)."""
    return _PLACEHOLDER.sub("*", location(asset, root))


def local_files(spec: str) -> list[str]:
    """The existing files a local path or glob names, sorted."""
    if glob.has_magic(spec):
        return sorted(glob.glob(spec))
    return [spec] if Path(spec).is_file() else []


def files_of(asset: Asset, root: Path, keys: Iterable[str], listing=None) -> list[str]:
    """The files holding some partitions of a per-partition source (arrived ones only);
    ``listing`` maps remote file URLs to their versions."""
    if listing is None:
        found, _entries = partition_files(asset, root, keys)
        return [f for files in found.values() for f in files]
    return [f for key in keys for f in _matching(location(asset, root, key), listing)]


def partition_files(asset: Asset, root: Path, keys: Iterable[str],
                    listed: bool | None = None) -> tuple[dict, dict]:
    """Each key's existing local files (confined to the project), and the folder's entries by
    path (their stat is cached: the version cache needs it). A template naming one folder and
    no glob is listed with one ``os.scandir`` instead of a stat and a path built per key, the
    difference between a no-op costing a few ms and a few hundred at 3,650 daily files; but
    a few keys (a one-day backfill) are looked up one by one, so their cost does not grow
    with the files around them. ``listed``: list the folder (True) or not (False) whatever
    the number of keys."""
    keys = list(keys)
    template = location(asset, root)
    folder, base = os.path.split(template)
    if listed is None:
        listed = len(keys) > FEW
    if not listed or _PLACEHOLDER.search(folder) or \
            glob.has_magic(_PLACEHOLDER.sub("", template)):
        found = {k: local_files(location(asset, root, k)) for k in keys}
        confined(asset, root, [f for files in found.values() for f in files])
        return found, {}
    found, entries = _listed(folder, base, asset, root, keys)
    files = [f for fs in found.values() for f in fs]
    # the listed files that are not links resolve with their folder: check it once
    odd = [f for f in files if f not in entries or entries[f].is_symlink()]
    plain = next((f for f in files if f in entries and not entries[f].is_symlink()), None)
    confined(asset, root, ([plain] if plain else []) + odd)
    return found, entries


def _listed(folder: str, base: str, asset: Asset, root: Path, keys: Iterable[str]):
    """Each key's file from one listing of ``folder``, and the listing."""
    try:
        with os.scandir(folder) as it:
            entries = {e.path: e for e in it}
    except OSError:  # no folder yet: nothing has arrived
        entries = {}
    pieces = _PLACEHOLDER.split(base)  # [before, placeholder, after] for one placeholder
    head = os.path.join(folder, pieces[0])
    found = {}
    for key in keys:
        if len(pieces) != 3 or not _PLAIN_KEY.fullmatch(key) or key in (".", ".."):
            found[key] = local_files(location(asset, root, key))  # not a plain file name
            continue
        path = head + key + pieces[2]
        entry = entries.get(path)
        found[key] = [path] if entry is not None and entry.is_file() else []
    return found, entries


def _matching(spec: str, listing: dict[str, str]) -> list[str]:
    if not glob.has_magic(spec):
        return [spec] if spec in listing else []
    import fnmatch

    return sorted(f for f in listing if fnmatch.fnmatchcase(f, spec))


def observe_files(asset: Asset, root: Path, keys: Iterable[str], cache: ver.VersionCache,
                  listing: dict[str, str] | None = None) -> dict[str, str | None]:
    """Data version per partition key (None: not arrived) of a file source.

    ``listing`` (remote sources) maps each listed URL to the version its store reports.
    """
    entries: dict = {}
    fmt = asset.source.format

    def version_of(files: list[str]) -> str | None:
        found = [(f, listing[f] if listing is not None else
                  cache.version(f, fmt, _stamp(entries.get(f)))) for f in files]
        found = [(f, v) for f, v in found if v is not None]
        if not found:
            return None
        if len(found) == 1 and not glob.has_magic(files[0]):
            return found[0][1]
        return ver.combined([(_relative(f, root), v) for f, v in found])

    if is_per_partition(asset) and listing is not None:
        return {k: version_of(files_of(asset, root, [k], listing)) for k in keys}
    if is_per_partition(asset):
        found, entries = partition_files(asset, root, keys)
        return {k: version_of(files) for k, files in found.items()}
    spec = location(asset, root)
    files = _matching(spec, listing) if listing is not None else \
        confined(asset, root, local_files(spec))
    whole = version_of(files)
    return {k: whole for k in keys}


def _stamp(entry) -> tuple | None:
    """A listed file's (size, mtime_ns, inode), from its listing's cached stat."""
    if entry is None:
        return None
    try:
        st = entry.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def confined(asset: Asset, root: Path, files: list[str]) -> list[str]:
    """``files``, refused (ManifestError) when one leads outside the project folder once links
    and '..' are followed: a source reads only the project's own files."""
    top = os.path.realpath(root).rstrip(os.sep)
    folders: dict[str, str] = {}  # a year of daily files shares one folder: resolve it once
    for name in files:
        real = _real(name, folders)
        if real != top and not real.startswith(top + os.sep):
            shown = os.path.relpath(name, root)
            raise ManifestError([Problem(
                f"source '{asset.name}': {shown} leads outside the project folder (to {real})",
                hint="duck reads source files only inside the project folder: copy the file "
                     "in rather than linking to it.", asset=asset.name)])
    return files


def _real(name: str, folders: dict[str, str]) -> str:
    """``os.path.realpath(name)``, resolving each folder once: a file that is not a link is
    its resolved folder plus its name."""
    folder, base = os.path.split(name)
    if not base or base in (".", "..") or os.path.islink(name):
        return os.path.realpath(name)
    if folder not in folders:
        folders[folder] = os.path.realpath(folder or ".")
    return os.path.join(folders[folder], base)


def _relative(file: str, root: Path) -> str:
    """A file's name relative to the project (so a clone elsewhere keeps its versions)."""
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        return file


def carry_legacy(asset: Asset, root: Path, live: dict[str, str | None],
                 recorded: dict[str, str | None]) -> dict[str, str | None]:
    """Keep a recorded size:mtime version (from before content versions) where the file still
    has that size and time: the same bytes were built from, so nothing is planned for it."""
    out = dict(live)
    for key, old in recorded.items():
        if live.get(key) is None or not ver.is_legacy(old):
            continue
        files = files_of(asset, root, [key]) if is_per_partition(asset) \
            else local_files(location(asset, root))
        if ver.legacy(files) == old:
            out[key] = old
    return out


def reader_sql(asset: Asset, files: list[str], columns: dict[str, str] | None = None) -> str:
    """The SELECT that reads some files of a source (``columns``: declared name -> type)."""
    src = asset.source
    listed = ", ".join(literal(f) for f in files)
    options = "".join(f", {k} = {_option(v)}" for k, v in sorted(src.options.items())
                      if re.fullmatch(r"[a-z_]+", k))
    if columns and src.format == "csv" and "types" not in src.options:
        options += ", types = " + _option(dict(columns))
    # No union_by_name: the files of a source must agree on their columns (a file that does
    # not is refused for its partitions). DuckDB still sniffs every file of the list, most of
    # what reading a small file costs: a step reads with options sniffed once (`run.sniffed`).
    return f"SELECT * FROM {READERS[src.format]}([{listed}]{options})"


def empty_sql(columns: dict[str, str]) -> str:
    """A relation with the declared columns and no rows (every file of a slice was empty)."""
    cols = ", ".join(f"CAST(NULL AS {t}) AS {_ident(n)}" for n, t in columns.items())
    return f"SELECT {cols} LIMIT 0"


def view_source(asset: Asset, root: Path, arrived: list[str]) -> list[str]:
    """What the whole-source view reads: one glob when it names exactly the arrived files
    (its text then stays the same as files arrive), else the list of files. A local source's
    ``arrived`` may name keys whose files are not there: one listing of the folder finds
    which are (a command that observed only some partitions still exposes the whole source,
    since a relationships check may read it, without observing every file)."""
    if not is_per_partition(asset):
        return [location(asset, root)]
    everything = pattern(asset, root)
    if is_remote(everything):  # a store lists through the glob; plain HTTP cannot list
        http = everything.lower().startswith(("http://", "https://"))
        return [location(asset, root, k) for k in arrived] if http else \
            ([everything] if arrived else [])
    found, entries = partition_files(asset, root, arrived, listed=True)
    files = [f for fs in found.values() for f in fs]
    globbed = _globbed(everything, entries) if entries else set(local_files(everything))
    return [everything] if set(files) == globbed else files


def _globbed(spec: str, entries: dict) -> set[str]:
    """What ``glob.glob(spec)`` finds, from a listing of its folder already made (the glob is
    only in the file name): hidden names are skipped unless the pattern is one."""
    import fnmatch

    base = os.path.basename(spec)
    match = re.compile(fnmatch.translate(base)).match
    shown = base.startswith(".")
    return {path for path, e in entries.items()
            if match(e.name) and (shown or not e.name.startswith("."))}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal.

    >>> literal("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _option(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))}: {_option(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return literal(str(value))
