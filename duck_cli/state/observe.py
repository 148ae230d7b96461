"""Observing file sources: the live data version of every partition, local or remote.

Local files are versioned by content (`versions.VersionCache`, cached in `.duck/cache`); remote
objects are versioned by what their store reports without reading them (`remote`: the ETag of
an S3 listing or an HTTP HEAD); where duck cannot ask the store itself (a secret provider only
DuckDB knows, gs://, az://) they are listed through DuckDB (`read_blob` over the path's glob,
which reads no content when only its metadata is selected) and versioned by size and
last-modified. Both read-only and writing commands observe the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

from duck_cli.errors import ExecutionError
from duck_cli.graph import partitions as parts
from duck_cli.graph.scope import keys_of
from duck_cli.models import Asset, Project, is_remote
from duck_cli.state import remote, sources
from duck_cli.state import versions as ver


def cache_file(project: Project) -> Path:
    """Where content hashes are cached (a folder of shards)."""
    return project.settings.catalog.parent / "cache" / "sources"


def file_sources(project: Project) -> list[Asset]:
    """The project's file sources, by name."""
    return [a for a in project.assets.values() if a.is_source and a.source.path]


def observe(project: Project, now: datetime, recorded: Mapping[tuple[str, str], object],
            connect: Callable[[], object] | None = None,
            scope: Mapping[str, frozenset[str]] | None = None) -> dict[str, dict[str, str | None]]:
    """Live versions of every file source's partitions, by asset and key.

    ``recorded`` (the catalog's current materializations) lets a size:mtime version recorded
    before content versions stand while the file is unchanged; ``connect`` gives a DuckDB
    connection with the project's extensions and secrets, for remote sources. With a
    ``scope`` (asset -> keys) only those partitions are observed.
    """
    cache = ver.VersionCache(cache_file(project))
    out: dict[str, dict[str, str | None]] = {}
    con = None
    for asset in file_sources(project):
        keys = keys_of(scope, asset, now)
        listing = None
        if is_remote(asset.source.path):
            listing, con = _remote(project, asset, keys, con, connect)
        live = sources.observe_files(asset, project.root, keys, cache, listing)
        if listing is None:
            old = {k: getattr(recorded.get((asset.name, k)), "data_version", None) for k in keys}
            live = sources.carry_legacy(asset, project.root, live, old)
        out[asset.name] = live
    cache.save()
    return out


def with_voters(project: Project, now: datetime, scope: Mapping[str, frozenset[str]] | None,
                voters: int = 4) -> Mapping[str, frozenset[str]] | None:
    """A scope with, for each file source in it, its first few partitions too: a step's file
    is checked against the columns of a few other files (`run.inputs.reference`), the same
    ones a whole observation would offer it (the earliest arrived)."""
    if scope is None:
        return None
    out = dict(scope)
    for asset in file_sources(project):
        if asset.name in scope:
            out[asset.name] = scope[asset.name] | frozenset(_first_arrived(
                project, asset, parts.first_keys(asset.partitions, now, 4 * voters), voters))
    return out


def _first_arrived(project: Project, asset: Asset, keys: list[str], n: int | None) -> list[str]:
    """The first ``n`` (None: all) of ``keys`` whose local file is there (one listing of its folder), or
    the first ``n`` keys of a remote or single-file source."""
    if is_remote(asset.source.path) or not sources.is_per_partition(asset):
        return keys[:n]
    found, _entries = sources.partition_files(asset, project.root, keys)
    return [k for k in keys if found.get(k)][:n]


def _remote(project: Project, asset: Asset, keys: list[str], con, connect):
    """A remote source's listing, from its store when duck can ask it, else through DuckDB
    (connecting once); and the connection, for the next source."""
    specs = _specs(asset, project.root, keys)
    try:
        found = remote.listing(project.settings, specs)
    except remote.StoreError as err:
        raise remote.listing_error(asset.name, asset.source.path, err) from None
    if found is not None:
        return found, con
    con = con or _connect(connect)
    return remote_listing(con, asset, project.root, keys), con


def _specs(asset: Asset, root: Path, keys: list[str]) -> list[str]:
    """What to list: each partition's URL over plain HTTP (it cannot list), else the glob."""
    if asset.source.path.lower().startswith(("http://", "https://")):
        return sorted({sources.location(asset, root, k) for k in keys}) \
            if sources.is_per_partition(asset) else [sources.location(asset, root)]
    return [sources.pattern(asset, root)]


def _connect(connect):
    if connect is None:
        raise ExecutionError("a remote source needs a DuckDB connection to list its files")
    return connect()


def remote_listing(con, asset: Asset, root: Path, keys: list[str]) -> dict[str, str]:
    """Each remote file the source's path (or template) names, with the version its store
    reports. Object stores are listed through the path's glob; plain HTTP cannot list, so each
    partition's URL is asked for on its own (a missing one has not arrived)."""
    found: dict[str, str] = {}
    for spec in _specs(asset, root, keys):
        found.update(_blobs(con, asset, spec))
    return found


def _blobs(con, asset: Asset, spec: str) -> dict[str, str]:
    from duck_cli.engine import duckdb

    try:
        rows = con.execute("SELECT filename, size, last_modified FROM read_blob(?)",
                           [spec]).fetchall()
    except duckdb.Error as err:
        text = str(err).lower()
        if "no files found" in text or "404" in text or "not found" in text and "http" in text:
            return {}
        raise remote_error(asset, err) from None
    return {name: remote.version(size, modified.isoformat() if modified else None)
            for name, size, modified in rows}


def remote_error(asset: Asset, err: Exception) -> ExecutionError:
    """A remote source that cannot be listed: the store's words, never a credential."""
    first = str(err).splitlines()[0][:300]
    return remote.listing_error(asset.name, asset.source.path, remote.StoreError(first))
